-- The graph's rules (flow/GraphRules) also for writes by plain SQL, so that nothing a peer would refuse
-- is captured: ids, types and endpoints without control characters, properties at most 1 MiB of JSON as
-- PostgreSQL writes it. NOT VALID: rows already there are not checked again (they were written before).
ALTER TABLE loom.nodes
    ADD CONSTRAINT nodes_printable CHECK (id !~ '[[:cntrl:]]' AND type !~ '[[:cntrl:]]') NOT VALID,
    ADD CONSTRAINT nodes_properties_size CHECK (octet_length(properties::text) <= 1048576) NOT VALID;
ALTER TABLE loom.edges
    ADD CONSTRAINT edges_printable CHECK (id !~ '[[:cntrl:]]' AND type !~ '[[:cntrl:]]'
        AND source_id !~ '[[:cntrl:]]' AND target_id !~ '[[:cntrl:]]') NOT VALID,
    ADD CONSTRAINT edges_properties_size CHECK (octet_length(properties::text) <= 1048576) NOT VALID;
