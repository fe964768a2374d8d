"""Field service: technicians and their calendars, SLA clocks, preventive work orders, the
dispatch of open work into visits, and the technician's close-out.

One idea per module: ``crew_masterdata`` (the technicians' master-data sections),
``crew`` (technicians and their working windows), ``geo`` (travel times), ``sla`` (breaches
and near-breaches), ``pm`` (preventive schedules and work orders), ``parts`` (when a kit can
be at a site), ``work`` (open work, merged per asset), ``jobs`` (work at one site in one
window as one job), ``solver`` (the solver contract), ``routing`` (OR-Tools), ``greedy`` (the
fallback and the baseline dispatcher), ``plan`` (planning and storing visits), ``closeout``.
"""
