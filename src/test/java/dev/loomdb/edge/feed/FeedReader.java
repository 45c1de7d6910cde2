package dev.loomdb.edge.feed;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.enterprise.context.ApplicationScoped;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.microprofile.reactive.messaging.Incoming;

/**
 * Code packaged with the node that reads the change feed with {@code @Incoming}, as the docs show: returns
 * normally to acknowledge, throws to refuse. Tests switch refusing on to play a downstream that is away.
 */
@ApplicationScoped
public class FeedReader {

    private final ObjectMapper mapper = new ObjectMapper();
    private final List<JsonNode> taken = new CopyOnWriteArrayList<>();
    private final AtomicBoolean refusing = new AtomicBoolean();
    private final AtomicInteger refused = new AtomicInteger();

    @Incoming("loom-feed")
    public void onChange(String json) throws IOException {
        if (refusing.get()) {
            refused.incrementAndGet();
            throw new IllegalStateException("the reader is away");
        }
        taken.add(mapper.readTree(json));
    }

    public List<JsonNode> taken() {
        return List.copyOf(taken);
    }

    public void refuse(boolean on) {
        refusing.set(on);
    }

    public int refused() {
        return refused.get();
    }
}
