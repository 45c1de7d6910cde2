package dev.loomdb.edge.graph;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loomdb.edge.config.LoomConfig;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.Response;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;

/** Refuses a request body larger than {@code loom.api.max-body-size} with 413, before reading it. */
public class BodyLimit {

    private final LoomConfig config;
    private final ObjectMapper mapper;

    public BodyLimit(LoomConfig config, ObjectMapper mapper) {
        this.config = config;
        this.mapper = mapper;
    }

    @ServerRequestFilter(preMatching = true)
    public Response limit(ContainerRequestContext request) {
        String length = request.getHeaderString(HttpHeaders.CONTENT_LENGTH);
        if (length == null) {
            return null;
        }
        long bytes;
        try {
            bytes = Long.parseLong(length.trim());
        } catch (NumberFormatException e) {
            return null;
        }
        long max = config.api().maxBodySize();
        if (bytes <= max) {
            return null;
        }
        ObjectNode body = mapper.createObjectNode();
        body.put("type", "about:blank");
        body.put("title", "Content too large");
        body.put("status", 413);
        body.put(
                "detail",
                "The body has " + bytes + " bytes; this node accepts at most " + max
                        + " (setting loom.api.max-body-size).");
        body.put("instance", request.getUriInfo().getPath());
        return Response.status(413)
                .type(ProblemResponses.PROBLEM_JSON)
                .entity(body.toString())
                .build();
    }
}
