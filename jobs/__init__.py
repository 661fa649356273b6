"""Heavy work: job functions, the queue (arq on Redis, or in-process), and the arq worker."""
