package dev.loomdb.edge.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** The ports the integration tests give their nodes, brokers and servers. */
class InfraPortTest {

    @Test
    void threadsAskingAtOnceNeverGetTheSamePortAndNoneIsEphemeral() throws Exception {
        Set<Integer> ports = ConcurrentHashMap.newKeySet();
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<?>> asks = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                asks.add(pool.submit(() -> {
                    for (int i = 0; i < 25; i++) {
                        ports.add(Infra.freePort());
                    }
                }));
            }
            for (Future<?> ask : asks) {
                ask.get();
            }
        } finally {
            pool.shutdownNow();
        }
        assertEquals(100, ports.size(), "every port handed out once");
        for (int port : ports) {
            assertTrue(port >= Infra.FIRST_PORT && port <= Infra.LAST_PORT, port + " below the ephemeral range");
        }
    }

    @Test
    void aPortSomethingListensOnIsSkipped() throws IOException {
        int next = Infra.freePort() + 1;
        try (ServerSocket taken = new ServerSocket()) {
            taken.bind(new InetSocketAddress("127.0.0.1", next));
            int given = Infra.freePort();
            assertTrue(given != next, "the port in use, " + next + ", was handed out");
        }
    }
}
