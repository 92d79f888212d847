"""The dispatcher: jobs, work queues, strategies, fleet state and journal."""
