package dev.loomdb.edge.graph;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vertx.pgclient.PgException;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

/** Every error of the REST API as {@code application/problem+json}: never a class name or a stack trace. */
public class ProblemResponses {

    public static final String PROBLEM_JSON = "application/problem+json";
    private static final Logger LOG = Logger.getLogger(ProblemResponses.class);

    private final ObjectMapper mapper;

    public ProblemResponses(ObjectMapper mapper) {
        this.mapper = mapper;
    }

    @ServerExceptionMapper
    public Response apiProblem(ApiProblem problem, UriInfo uri) {
        ObjectNode body = body(problem.status(), problem.title(), problem.getMessage(), uri);
        if (problem.operation() != null) {
            body.put("operation", problem.operation());
        }
        return response(problem.status(), body);
    }

    @ServerExceptionMapper
    public Response webApplication(WebApplicationException e, UriInfo uri) {
        int status = e.getResponse().getStatus();
        String title = Response.Status.fromStatusCode(status) != null
                ? Response.Status.fromStatusCode(status).getReasonPhrase()
                : "Error";
        String detail = switch (status) {
            case 404 -> "There is nothing at " + uri.getPath() + ".";
            case 405 -> "This method is not allowed on " + uri.getPath() + ".";
            case 406 -> "This resource answers in application/json only.";
            case 415 -> "Send the body as application/json.";
            default -> title + ".";
        };
        return problem(status, title, detail, uri);
    }

    @ServerExceptionMapper
    public Response database(PgException e, UriInfo uri) {
        String state = e.getSqlState() == null ? "" : e.getSqlState();
        if (state.startsWith("22") || state.startsWith("23")) {
            return problem(400, "Bad request", "PostgreSQL refused the values: " + e.getErrorMessage() + ".", uri);
        }
        LOG.errorf("Database error on %s: %s", uri.getPath(), e.getMessage());
        return problem(503, "Service unavailable", "The database could not complete the request; try again.", uri);
    }

    @ServerExceptionMapper(priority = 10_000)
    public Response unexpected(Throwable e, UriInfo uri) {
        LOG.errorf(e, "Unexpected error on %s", uri.getPath());
        return problem(500, "Internal error", "The node failed to handle the request; its log says why.", uri);
    }

    Response problem(int status, String title, String detail, UriInfo uri) {
        return response(status, body(status, title, detail, uri));
    }

    private ObjectNode body(int status, String title, String detail, UriInfo uri) {
        return body(mapper, status, title, detail, uri.getPath());
    }

    /** An RFC 9457 body; also for the request filters, which answer before a resource is matched. */
    static ObjectNode body(ObjectMapper mapper, int status, String title, String detail, String instance) {
        ObjectNode body = mapper.createObjectNode();
        body.put("type", "about:blank");
        body.put("title", title);
        body.put("status", status);
        body.put("detail", detail);
        body.put("instance", instance);
        return body;
    }

    static Response response(int status, ObjectNode body) {
        return builder(status, body).build();
    }

    static Response.ResponseBuilder builder(int status, ObjectNode body) {
        return Response.status(status).type(PROBLEM_JSON).entity(body.toString());
    }
}
