package dev.loomdb.edge.graph;

import com.fasterxml.jackson.databind.node.ObjectNode;
import jakarta.ws.rs.core.Response;

/** A node's or edge's version as its HTTP entity tag: what a later write sends back in If-Match. */
final class EntityTags {

    private EntityTags() {}

    static Response tagged(Response.ResponseBuilder response, ObjectNode row) {
        return response.header("ETag", "\"" + row.path("version").asLong() + "\"")
                .build();
    }
}
