-- Which process recorded a run, beyond its pid: `<boot id>/<start time>`
-- on Linux, NULL where the system does not tell. A run left `running` by a
-- process that died is told apart from a later process that reused its pid.
ALTER TABLE core_executions ADD COLUMN host_process TEXT;
