package dev.loomdb.edge.embedded;

/** MQTT 3.1.1 topic names and filters (section 4.7): levels split by '/', '+' one level, '#' the rest. */
final class Topics {
    private Topics() {}

    /** A topic a client may publish to: not empty, no wildcard, no NUL. */
    static boolean validName(String topic) {
        return !topic.isEmpty() && topic.indexOf('+') < 0 && topic.indexOf('#') < 0 && topic.indexOf('\0') < 0;
    }

    /** A filter a client may subscribe to: '+' fills a whole level, '#' only the whole last level. */
    static boolean validFilter(String filter) {
        if (filter.isEmpty() || filter.indexOf('\0') >= 0) {
            return false;
        }
        String[] levels = filter.split("/", -1);
        for (int i = 0; i < levels.length; i++) {
            String level = levels[i];
            if (level.equals("#")) {
                if (i != levels.length - 1) {
                    return false;
                }
            } else if (!level.equals("+") && (level.indexOf('+') >= 0 || level.indexOf('#') >= 0)) {
                return false;
            }
        }
        return true;
    }

    /**
     * Whether {@code topic} matches {@code filter}; "a/#" matches "a" too, and a filter that starts with a
     * wildcard matches no topic that starts with '$'.
     */
    static boolean matches(String filter, String topic) {
        if (topic.startsWith("$") && (filter.startsWith("+") || filter.startsWith("#"))) {
            return false;
        }
        int f = 0;
        int t = 0;
        while (true) {
            int fEnd = end(filter, f);
            if (isLevel(filter, f, fEnd, '#')) {
                return true;
            }
            int tEnd = end(topic, t);
            if (!isLevel(filter, f, fEnd, '+') && !filter.regionMatches(f, topic, t, Math.max(fEnd - f, tEnd - t))) {
                return false;
            }
            boolean filterDone = fEnd == filter.length();
            boolean topicDone = tEnd == topic.length();
            if (filterDone || topicDone) {
                if (filterDone && topicDone) {
                    return true;
                }
                // "a/#" matches "a": the filter has exactly one level left and it is '#'
                return topicDone && isLevel(filter, fEnd + 1, filter.length(), '#');
            }
            f = fEnd + 1;
            t = tEnd + 1;
        }
    }

    /** Whether the level of {@code s} from {@code from} to {@code to} is the single character {@code c}. */
    private static boolean isLevel(String s, int from, int to, char c) {
        return to - from == 1 && s.charAt(from) == c;
    }

    private static int end(String s, int from) {
        int slash = s.indexOf('/', from);
        return slash < 0 ? s.length() : slash;
    }
}
