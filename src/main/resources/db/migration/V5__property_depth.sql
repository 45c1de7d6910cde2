-- The last of the graph's rules (flow/GraphRules) for writes by plain SQL: properties nest at most 32
-- levels ({} is one level), as the REST API and every peer require, so that no row a peer would refuse
-- is captured. An object or array at level 32 of the document means 33 levels. NOT VALID: rows already
-- there are not checked again.
ALTER TABLE loom.nodes
    ADD CONSTRAINT nodes_properties_depth CHECK (NOT jsonb_path_exists(properties,
        'strict $.**{32} ? (@.type() == "object" || @.type() == "array")')) NOT VALID;
ALTER TABLE loom.edges
    ADD CONSTRAINT edges_properties_depth CHECK (NOT jsonb_path_exists(properties,
        'strict $.**{32} ? (@.type() == "object" || @.type() == "array")')) NOT VALID;
