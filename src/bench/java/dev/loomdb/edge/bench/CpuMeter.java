package dev.loomdb.edge.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * Where the machine's CPU goes during a benchmark run. A thread samples every process's CPU time
 * ({@code utime + stime} of {@code /proc/<pid>/stat}) every {@value #SAMPLE_MILLIS} ms and names each
 * process by its role: PostgreSQL processes by what {@code pg_stat_activity} of their server says
 * of them (backend type, database, application name), the node JVMs by pid, the broker by name.
 * A process that exits between two samples loses at most one interval. Linux only (the benchmarks
 * run there).
 */
final class CpuMeter implements AutoCloseable {

    /** A PostgreSQL server of the run and what each of its databases is called in the figures ("A", "source"…). */
    record Server(SqlSource sql, Function<String, String> sideOf) {}

    interface SqlSource {
        Connection get() throws SQLException;
    }

    /** CPU seconds per role over a run of {@code wallSeconds}. */
    record Usage(double wallSeconds, Map<String, Double> cpuSeconds) {

        double totalSeconds() {
            return cpuSeconds.values().stream().mapToDouble(Double::doubleValue).sum();
        }

        /** Cores kept busy on average: total CPU time over wall time. */
        double coresBusy() {
            return wallSeconds == 0 ? 0 : totalSeconds() / wallSeconds;
        }
    }

    static final String OTHER = "other processes (Maven, system)";
    static final String PG_BACKGROUND = "PostgreSQL background (WAL writer, checkpointer, postmaster, …)";
    private static final long SAMPLE_MILLIS = 200;
    static final String WRITER = "writer's backend (the benchmark's writes)";
    /** The meter running now, if any: the writers name their connection to it. */
    private static volatile CpuMeter current;

    private static final Path PROC = Path.of("/proc");
    private static final double TICKS_PER_SECOND = 100; // USER_HZ, 100 on every Linux the benchmarks run on

    private final List<Server> servers;
    private final Map<Server, Connection> connections = new HashMap<>();
    private final Map<Long, String> names = new ConcurrentHashMap<>();
    private final Map<Long, Long> first = new HashMap<>();
    private final Map<Long, Long> last = new HashMap<>();
    private final Map<Long, String> command = new HashMap<>();
    private final Thread sampler;
    private final long started = System.nanoTime();
    private volatile boolean running = true;
    private volatile Exception failure;

    private CpuMeter(List<Server> servers, Map<Long, String> namedPids) {
        this.servers = servers;
        this.names.putAll(namedPids);
        this.names.put(ProcessHandle.current().pid(), "bench JVM (the writer's and the pollers' client side)");
        sample(true);
        nameBackends();
        current = this;
        this.sampler = new Thread(this::run, "cpu-meter");
        this.sampler.setDaemon(true);
        this.sampler.start();
    }

    /** Starts measuring: {@code namedPids} names processes that are not PostgreSQL's (the node JVMs). */
    static CpuMeter start(List<Server> servers, Map<Long, String> namedPids) {
        return new CpuMeter(servers, namedPids);
    }

    /** Names the backend of a writer's connection for the meter running now (a short connection may live between two samples). */
    static void writer(Connection sql) throws SQLException {
        CpuMeter meter = current;
        if (meter != null) {
            try (Statement s = sql.createStatement();
                    ResultSet rs = s.executeQuery("SELECT pg_backend_pid()")) {
                rs.next();
                meter.names.put(rs.getLong(1), WRITER);
            }
        }
    }

    private void run() {
        while (running) {
            try {
                Thread.sleep(SAMPLE_MILLIS);
            } catch (InterruptedException e) {
                return;
            }
            sample(false);
            nameBackends();
        }
    }

    /** Stops measuring and returns the CPU time of each role since the start. */
    Usage stop() {
        double wall = (System.nanoTime() - started) / 1e9;
        halt();
        sample(false);
        nameBackends();
        if (failure != null) {
            throw new IllegalStateException("cannot name the PostgreSQL processes of the run", failure);
        }
        Map<String, Double> byRole = new TreeMap<>();
        synchronized (this) {
            last.forEach((pid, ticks) -> {
                long used = ticks - first.getOrDefault(pid, 0L);
                if (used > 0) {
                    byRole.merge(role(pid), used / TICKS_PER_SECOND, Double::sum);
                }
            });
        }
        return new Usage(wall, byRole);
    }

    @Override
    public void close() {
        halt();
        connections.values().forEach(sql -> {
            try {
                sql.close();
            } catch (SQLException e) {
                // closing anyway
            }
        });
    }

    /** Stops the sampler; this meter no longer takes writers' names. */
    private void halt() {
        if (current == this) {
            current = null;
        }
        running = false;
        sampler.interrupt();
        try {
            sampler.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private String role(long pid) {
        String name = names.get(pid);
        if (name != null) {
            return name;
        }
        String comm = command.getOrDefault(pid, "");
        if (comm.equals("mosquitto")) {
            return "broker (Mosquitto)";
        }
        if (comm.startsWith("postgres")) {
            return PG_BACKGROUND;
        }
        return OTHER;
    }

    private synchronized void sample(boolean initial) {
        try (Stream<Path> entries = Files.list(PROC)) {
            entries.forEach(dir -> {
                String file = dir.getFileName().toString();
                if (file.isEmpty() || !Character.isDigit(file.charAt(0))) {
                    return;
                }
                long pid = Long.parseLong(file);
                String stat;
                try {
                    stat = Files.readString(dir.resolve("stat"));
                } catch (IOException | RuntimeException e) {
                    return; // exited meanwhile
                }
                int open = stat.indexOf('(');
                int close = stat.lastIndexOf(')');
                if (open < 0 || close < open) {
                    return;
                }
                long ticks = ticksOf(stat);
                command.putIfAbsent(pid, stat.substring(open + 1, close));
                if (initial) {
                    first.put(pid, ticks);
                }
                last.put(pid, ticks);
            });
        } catch (IOException e) {
            throw new IllegalStateException("cannot read /proc", e);
        }
    }

    /** CPU time in ticks (utime + stime, fields 14 and 15) of a {@code /proc/<pid>/stat} line. */
    static long ticksOf(String stat) {
        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
    }

    /** Names every process pg_stat_activity lists on the run's servers (first name wins: pids live on). */
    private synchronized void nameBackends() {
        for (Server server : servers) {
            try (Statement s = connection(server).createStatement();
                    ResultSet rs = s.executeQuery("SELECT pid, backend_type, datname, application_name"
                            + " FROM pg_stat_activity WHERE pid <> pg_backend_pid()")) {
                while (rs.next()) {
                    names.putIfAbsent(
                            rs.getLong(1), backendRole(server, rs.getString(2), rs.getString(3), rs.getString(4)));
                }
            } catch (SQLException e) {
                failure = e;
            }
        }
    }

    private Connection connection(Server server) throws SQLException {
        Connection sql = connections.get(server);
        if (sql == null) {
            sql = server.sql().get();
            connections.put(server, sql);
            try (Statement s = sql.createStatement();
                    ResultSet rs = s.executeQuery("SELECT pg_backend_pid()")) {
                rs.next();
                names.put(rs.getLong(1), "the CPU meter's own queries");
            }
        }
        return sql;
    }

    private static String backendRole(Server server, String type, String database, String application) {
        String side = database == null ? null : server.sideOf().apply(database);
        if (side == null) {
            return PG_BACKGROUND;
        }
        if ("walsender".equals(type)) {
            return side + ": WAL sender (logical decoding)";
        }
        if (type != null && type.startsWith("logical replication") && !type.contains("launcher")) {
            return side + ": PostgreSQL apply worker";
        }
        if ("client backend".equals(type)) {
            if ("loom-apply".equals(application)) {
                return side + ": node's apply backend";
            }
            if (application != null && application.contains("JDBC")) {
                return side + ": benchmark's queries (waiting for the rows)";
            }
            return side + ": node's other backends";
        }
        return PG_BACKGROUND;
    }
}
