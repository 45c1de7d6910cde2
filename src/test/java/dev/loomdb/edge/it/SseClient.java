package dev.loomdb.edge.it;

import static org.awaitility.Awaitility.await;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;
import java.util.stream.Stream;

/** A Server-Sent Events client, as a dashboard would hold one: it records every event it is sent. */
public final class SseClient implements AutoCloseable {

    /** One event: its name (the kind) and its data. */
    public record Event(String name, String data) {}

    private final List<Event> events = new CopyOnWriteArrayList<>();
    private final CompletableFuture<HttpResponse<Stream<String>>> response;
    private volatile int status;

    public SseClient(int httpPort, String pathAndQuery) {
        this(httpPort, pathAndQuery, event -> {});
    }

    /** Also hands each event to {@code onEvent}, on the client's thread, as it arrives. */
    public SseClient(int httpPort, String pathAndQuery, java.util.function.Consumer<Event> onEvent) {
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPort + pathAndQuery))
                .header("Accept", "text/event-stream")
                .GET()
                .build();
        response = HttpClient.newHttpClient().sendAsync(request, HttpResponse.BodyHandlers.ofLines());
        response.thenAccept(r -> {
            status = r.statusCode();
            String[] name = {null};
            StringBuilder data = new StringBuilder();
            r.body().forEach(line -> {
                if (line.isEmpty()) {
                    if (name[0] != null || data.length() > 0) {
                        Event event = new Event(name[0], data.toString());
                        events.add(event);
                        onEvent.accept(event);
                    }
                    name[0] = null;
                    data.setLength(0);
                } else if (line.startsWith("event:")) {
                    name[0] = line.substring(6).trim();
                } else if (line.startsWith("data:")) {
                    data.append(line.substring(5).trim());
                }
            });
        });
    }

    /** Waits for the stream's opening event: from then on, every event is delivered. */
    public SseClient awaitSubscribed() {
        await().atMost(Duration.ofSeconds(15))
                .until(() -> events.stream().anyMatch(e -> "subscribed".equals(e.name())));
        return this;
    }

    public int status() {
        await().atMost(Duration.ofSeconds(15)).until(() -> status != 0);
        return status;
    }

    public List<Event> events() {
        return List.copyOf(events);
    }

    public List<Event> named(String name) {
        return events.stream().filter(e -> name.equals(e.name())).toList();
    }

    public Event awaitEvent(Duration bound, Predicate<Event> which) {
        return await().atMost(bound)
                .until(() -> events.stream().filter(which).findFirst().orElse(null), java.util.Objects::nonNull);
    }

    @Override
    public void close() {
        response.cancel(true);
    }
}
