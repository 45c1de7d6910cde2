package dev.loomdb.edge.graph;

import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.core.Cookie;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.Response;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;

/**
 * Refuses an /api request without a key of the role it needs ({@link ApiAccess}): 401 (with
 * {@code WWW-Authenticate}) when no known key is sent, 403 when the key's role is too low. The key goes in
 * {@code Authorization: Bearer <secret>} or {@code X-API-Key: <secret>}; for reads also in the cookie
 * {@value #COOKIE}, which the live view sets (its event stream cannot send headers).
 */
public class ApiAuth {

    static final String COOKIE = "loom_api_key";

    private final ApiAccess access;
    private final ObjectMapper mapper;

    public ApiAuth(ApiAccess access, ObjectMapper mapper) {
        this.access = access;
        this.mapper = mapper;
    }

    @ServerRequestFilter(preMatching = true, priority = 500)
    public Response authorize(ContainerRequestContext request) {
        if (!access.enabled()) {
            return null;
        }
        String method = request.getMethod();
        ApiAccess.Role needed = ApiAccess.needed(method, request.getUriInfo().getPath());
        if (needed == null) {
            return null;
        }
        String secret = secret(request, needed == ApiAccess.Role.READ);
        if (secret == null) {
            return problem(
                    request,
                    401,
                    "Unauthorized",
                    "This node's API needs an API key of role " + needed.label()
                            + " or higher: send Authorization: Bearer <key> (or X-API-Key: <key>).");
        }
        ApiAccess.Key key = access.find(secret);
        if (key == null) {
            return problem(request, 401, "Unauthorized", "The API key sent is not one of this node's keys.");
        }
        if (key.role().compareTo(needed) < 0) {
            return problem(
                    request,
                    403,
                    "Forbidden",
                    "The key '" + key.name() + "' has role " + key.role().label() + "; " + method + " "
                            + request.getUriInfo().getPath() + " needs " + needed.label() + ".");
        }
        return null;
    }

    private static String secret(ContainerRequestContext request, boolean read) {
        String authorization = request.getHeaderString(HttpHeaders.AUTHORIZATION);
        if (authorization != null && authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return authorization.substring(7).trim();
        }
        String header = request.getHeaderString("X-API-Key");
        if (header != null && !header.isBlank()) {
            return header.trim();
        }
        Cookie cookie = read ? request.getCookies().get(COOKIE) : null;
        return cookie == null || cookie.getValue().isBlank() ? null : cookie.getValue();
    }

    private Response problem(ContainerRequestContext request, int status, String title, String detail) {
        Response.ResponseBuilder response = ProblemResponses.builder(
                status,
                ProblemResponses.body(
                        mapper, status, title, detail, request.getUriInfo().getPath()));
        if (status == 401) {
            response.header(HttpHeaders.WWW_AUTHENTICATE, "Bearer realm=\"loomdb-edge\"");
        }
        return response.build();
    }
}
