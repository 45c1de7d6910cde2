package dev.loomdb.edge.apply;

import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.Envelope;
import dev.loomdb.edge.flow.EnvelopeFormat;
import dev.loomdb.edge.flow.Hlc;
import dev.loomdb.edge.flow.MalformedEnvelopeException;
import dev.loomdb.edge.flow.Scope;
import java.time.Duration;
import java.util.List;

/**
 * The checks a received message passes before the inbound queue writes anything, in one place for
 * live messages, parked ones and rows of state sync: it reads the envelope and says whether it is
 * applied (the part of it this node follows), held (a part of a split window), skipped (nothing to
 * write: this node's own, or of types it does not follow) or rejected (with the reason).
 */
final class Admission {

    /** What to do with a message. */
    sealed interface Verdict permits Skip, Reject, Hold, Apply {}

    /** Nothing to write: acknowledged as it is. */
    record Skip() implements Verdict {}

    /** Kept aside with its reason, never applied. */
    record Reject(Rejects.Reason reason, String detail) implements Verdict {}

    /** A part of a window split over several messages, held until the window is whole. */
    record Hold(Envelope part) implements Verdict {}

    /** Applied: the changes of the envelope this node follows. */
    record Apply(Envelope envelope) implements Verdict {}

    private static final Skip SKIP = new Skip();

    private final EnvelopeFormat format;
    private final String mesh;
    private final String nodeId;
    private final String changesPrefix;
    private final String ownTopic;
    private final String ownPrefix;
    private final Scope follows;
    private final TransactionParts parts;
    private final Duration retention;

    Admission(
            EnvelopeFormat format,
            String mesh,
            String nodeId,
            Scope follows,
            TransactionParts parts,
            Duration retention) {
        this.format = format;
        this.mesh = mesh;
        this.nodeId = nodeId;
        this.changesPrefix = "loom/" + mesh + "/changes/";
        this.ownTopic = changesPrefix + nodeId;
        this.ownPrefix = ownTopic + "/";
        this.follows = follows;
        this.parts = parts;
        this.retention = retention;
    }

    /**
     * The verdict on a message received on {@code topic}, read already ({@code decoded}) or not. Rows of
     * state sync come from {@code statePeer} (null for a live or parked message), which must be their
     * origin; a live message must come on its origin's own topic; a part of a split window only comes live.
     */
    Verdict admit(String topic, byte[] payload, Envelope decoded, String statePeer, boolean parked) {
        boolean live = statePeer == null;
        if (live && own(topic)) {
            return SKIP; // this node's own publication, echoed by the broker: not even read
        }
        Envelope envelope = decoded;
        if (envelope == null) {
            try {
                envelope = format.decode(payload);
            } catch (MalformedEnvelopeException e) {
                return new Reject(Rejects.Reason.MALFORMED, e.getMessage());
            }
        }
        if (!envelope.mesh().equals(mesh)) {
            return new Reject(
                    Rejects.Reason.WRONG_MESH, "envelope of mesh '" + envelope.mesh() + "' on this mesh's topic");
        }
        String publisher = publisherOf(topic);
        if (live && publisher != null && !publisher.equals(envelope.origin())) {
            return new Reject(
                    Rejects.Reason.WRONG_ORIGIN,
                    "an envelope whose origin is '" + envelope.origin() + "' on the topic of node '" + publisher
                            + "': a node publishes only on its own topic");
        }
        if (!live && !envelope.origin().equals(statePeer)) {
            return new Reject(
                    Rejects.Reason.MALFORMED,
                    "state-sync rows of '" + envelope.origin() + "' on the topic of peer '" + statePeer + "'");
        }
        if (envelope.origin().equals(nodeId)) {
            return SKIP;
        }
        if (envelope.isPart()) {
            if (!parts.followed(envelope)) {
                return SKIP; // a type this node no longer follows, still queued in its broker session
            }
            if (!live || parked) {
                return new Reject(
                        Rejects.Reason.MALFORMED, "a part of a split window where a whole envelope is expected");
            }
            return new Hold(envelope);
        }
        List<Change> followed = follows.filter(envelope.changes());
        if (followed.isEmpty() && !envelope.changes().isEmpty()) {
            return SKIP; // nothing of what this node follows
        }
        return new Apply(followed == envelope.changes() ? envelope : envelope.whole(followed));
    }

    /**
     * Why a live message's changes must not be applied because one is older than the tombstone
     * retention, or null. (Rows of state sync are a peer's current state: they may be as old as they like.)
     */
    String beyondHorizon(Envelope envelope) {
        Hlc horizon = Hlc.horizon(retention);
        if (envelope.changes().stream().noneMatch(c -> c.hlc().isBefore(horizon))) {
            return null;
        }
        return "a change is older than the tombstone retention (loom.tombstone.retention=" + retention
                + "): applying it could bring back a row whose delete is forgotten";
    }

    /**
     * Whether a live message read already may join a group of {@code origin}'s messages applied in one
     * transaction: one that {@link #admit} would apply whole, with nothing to filter out or reject.
     */
    boolean appliesWhole(String topic, Envelope envelope, String origin) {
        return origin.equals(publisherOf(topic))
                && envelope.mesh().equals(mesh)
                && envelope.origin().equals(origin)
                && !envelope.isPart()
                && !envelope.changes().isEmpty()
                && follows.filter(envelope.changes()).size()
                        == envelope.changes().size()
                && beyondHorizon(envelope) == null;
    }

    /** The node whose change topic {@code topic} is ({@code loom/<mesh>/changes/<node>/...}), or null. */
    String publisherOf(String topic) {
        if (!topic.startsWith(changesPrefix)) {
            return null;
        }
        int end = topic.indexOf('/', changesPrefix.length());
        return topic.substring(changesPrefix.length(), end < 0 ? topic.length() : end);
    }

    /** Whether a topic is one of this node's own (its publications, echoed by the broker). */
    boolean own(String topic) {
        return topic.startsWith(ownPrefix) || topic.equals(ownTopic);
    }
}
