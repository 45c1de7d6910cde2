package dev.loomdb.edge.graph;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loomdb.edge.config.LoomConfig;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.List;
import java.util.Map;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;

/**
 * What every request must be before it is read, each refusal a problem+json naming the limit: the request
 * line at most {@value #MAX_REQUEST_TARGET} characters (414), the headers at most {@value #MAX_HEADERS}
 * bytes (431), a body at most {@code loom.api.max-body-size} (413) and sent as JSON (415).
 */
public class RequestChecks {

    /** Longest request target (path and query), in characters. */
    static final int MAX_REQUEST_TARGET = 8192;
    /** Largest sum of header names and values, in bytes. */
    static final int MAX_HEADERS = 16384;

    private final LoomConfig config;
    private final ObjectMapper mapper;

    public RequestChecks(LoomConfig config, ObjectMapper mapper) {
        this.config = config;
        this.mapper = mapper;
    }

    @ServerRequestFilter(preMatching = true)
    public Response check(ContainerRequestContext request) {
        String target = request.getUriInfo().getRequestUri().getRawPath()
                + (request.getUriInfo().getRequestUri().getRawQuery() == null
                        ? ""
                        : "?" + request.getUriInfo().getRequestUri().getRawQuery());
        if (target.length() > MAX_REQUEST_TARGET) {
            return problem(
                    request,
                    414,
                    "URI too long",
                    "The request target has " + target.length() + " characters; this node reads at most "
                            + MAX_REQUEST_TARGET + ". Ids are at most 256 characters; page with 'after' and 'limit'.");
        }
        long headerBytes = 0;
        for (Map.Entry<String, List<String>> header : request.getHeaders().entrySet()) {
            for (String value : header.getValue()) {
                headerBytes += header.getKey().length() + value.length();
            }
        }
        if (headerBytes > MAX_HEADERS) {
            return problem(
                    request,
                    431,
                    "Request header fields too large",
                    "The headers have " + headerBytes + " bytes; this node reads at most " + MAX_HEADERS + ".");
        }
        if (!hasBody(request)) {
            return null;
        }
        Long length = contentLength(request);
        long max = config.api().maxBodySize();
        if (length != null && length > max) {
            return problem(
                    request,
                    413,
                    "Content too large",
                    "The body has " + length + " bytes; this node accepts at most " + max
                            + " (setting loom.api.max-body-size).");
        }
        String type = request.getHeaderString(HttpHeaders.CONTENT_TYPE);
        String wrong = type == null ? "no Content-Type" : json(type);
        if (wrong != null) {
            return problem(
                    request,
                    415,
                    "Unsupported media type",
                    "The body was sent with " + wrong + "; send it as JSON (Content-Type: application/json).");
        }
        return null;
    }

    /** Null when the content type is JSON in UTF-8; else what it is. */
    private static String json(String header) {
        MediaType type;
        try {
            type = MediaType.valueOf(header);
        } catch (IllegalArgumentException e) {
            return "the Content-Type '" + header + "', which is not a media type";
        }
        boolean json = "application".equalsIgnoreCase(type.getType())
                && ("json".equalsIgnoreCase(type.getSubtype())
                        || type.getSubtype().toLowerCase().endsWith("+json"));
        if (!json) {
            return "Content-Type " + type.getType() + "/" + type.getSubtype();
        }
        String charset = type.getParameters().get(MediaType.CHARSET_PARAMETER);
        if (charset != null && !charset.equalsIgnoreCase("utf-8")) {
            return "the charset " + charset + " (JSON is UTF-8)";
        }
        return null;
    }

    private static boolean hasBody(ContainerRequestContext request) {
        String method = request.getMethod();
        if (!method.equals("POST") && !method.equals("PUT") && !method.equals("PATCH")) {
            return false;
        }
        Long length = contentLength(request);
        return length == null ? request.getHeaderString("Transfer-Encoding") != null : length > 0;
    }

    private static Long contentLength(ContainerRequestContext request) {
        String length = request.getHeaderString(HttpHeaders.CONTENT_LENGTH);
        if (length == null) {
            return null;
        }
        try {
            return Long.parseLong(length.trim());
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private Response problem(ContainerRequestContext request, int status, String title, String detail) {
        return ProblemResponses.response(
                status,
                ProblemResponses.body(
                        mapper, status, title, detail, request.getUriInfo().getPath()));
    }
}
