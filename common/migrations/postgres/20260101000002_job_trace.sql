-- The W3C traceparent of the request that scheduled a job, so its run (an
-- outbox delivery, a timer) joins that trace. NULL outside a sampled trace.
ALTER TABLE jobs ADD COLUMN traceparent TEXT;
