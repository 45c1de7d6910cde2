package dev.loomdb.edge.trial;

import io.quarkus.hibernate.reactive.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.OffsetDateTime;
import org.hibernate.annotations.JdbcTypeCode;
import org.hibernate.type.SqlTypes;

/**
 * Trial only (-Phibernate-trial, docs/benchmarks.md#hibernate-reactive): loom.conflicts mapped with
 * Hibernate Reactive and Panache, to measure what the extension costs at start and in memory.
 */
@Entity
@Table(name = "conflicts", schema = "loom")
public class ConflictRecord extends PanacheEntityBase {
    @Id
    public Long id;

    public String kind;

    @Column(name = "entity_id")
    public String entityId;

    @Column(name = "detected_at")
    public OffsetDateTime detectedAt;

    @JdbcTypeCode(SqlTypes.JSON)
    public String local;

    @JdbcTypeCode(SqlTypes.JSON)
    public String remote;

    @Column(name = "resolved_at")
    public OffsetDateTime resolvedAt;

    public String resolution;
}
