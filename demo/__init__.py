"""The demo shop, in one place: what a newcomer (or a test) sees after ``make run``.

* :mod:`.catalogue` - the plate designs the shop is seeded with.
* :mod:`.seed` - the seed data (people, machines, catalogue, stock, tickets, a calibrated camera station),
  ``manage.py seed_demo``.
* :mod:`.shop` - simulated machines on the demo machines' ports, ``manage.py serve_demo_machines``.
* :mod:`.camera` - the simulated camera loop, ``manage.py simulate_camera``.

The simulators themselves (firmware and camera models) are the Django-free :mod:`simulators` package.
A Django app without models; no product code imports it.
"""
