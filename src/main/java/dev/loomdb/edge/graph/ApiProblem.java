package dev.loomdb.edge.graph;

/**
 * A request the API refuses, turned into an {@code application/problem+json} response (RFC 9457)
 * whose {@code detail} says, in a sentence, what was wrong.
 */
public class ApiProblem extends RuntimeException {

    private final int status;
    private final String title;
    /** The index of the batch operation the problem is about, or null. */
    private final Integer operation;

    public ApiProblem(int status, String title, String detail) {
        this(status, title, detail, null);
    }

    public ApiProblem(int status, String title, String detail, Integer operation) {
        super(detail);
        this.status = status;
        this.title = title;
        this.operation = operation;
    }

    public static ApiProblem badRequest(String detail) {
        return new ApiProblem(400, "Bad request", detail);
    }

    public static ApiProblem notFound(String detail) {
        return new ApiProblem(404, "Not found", detail);
    }

    public int status() {
        return status;
    }

    public String title() {
        return title;
    }

    public Integer operation() {
        return operation;
    }
}
