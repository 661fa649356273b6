"""Heavy work. ``queue`` records and queues jobs (arq on Redis, or in-process) and imports nothing
else of the package, so that the services may use it; ``runner`` runs one job; ``batch``,
``card_photo`` and ``statistics`` are the job functions; ``registry`` maps each kind to its
function; ``cron`` and ``worker`` make the arq worker. Kept empty: the services' import of
jobs.queue must not load the job functions."""
