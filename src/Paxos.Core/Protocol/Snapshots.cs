namespace Paxos.Protocol;

/// <summary>
/// The replica's own part of a snapshot: where it stands (the last executed sequence number) and the replicated client
/// table that exactly-once depends on. The executor's state travels beside it (<see cref="ISnapshotExecutor"/>).
/// Nothing here is specific to the replica that took it, so a snapshot taken by one replica can be installed by another.
/// </summary>
public sealed class SnapshotState
{
    /// <summary>The last sequence number the snapshot covers: every update up to it, and none after it, executed.</summary>
    public SequenceNumber Sequence { get; init; }

    /// <summary>N, the cluster's size when the snapshot was taken; a replica refuses a snapshot of another size.</summary>
    public int ClusterSize { get; init; }

    /// <summary>The client table: each client's last executed update and its reply, in ascending client id order.</summary>
    public IReadOnlyList<ClientTableEntry> Clients { get; init; } = [];

    /// <summary>The client table's expiry mark: the highest timestamp any client it forgot had executed (0 when none was
    /// forgotten). An update of a client not in the table at or below it is refused, never executed.</summary>
    public long ClientsExpiredThrough { get; init; }
}

/// <summary>One client's row of the replicated client table: its last executed update and the reply it got.</summary>
/// <param name="Client">The client.</param>
/// <param name="Timestamp">The timestamp of its last executed update.</param>
/// <param name="Sequence">Where that update executed.</param>
/// <param name="Result">The executor's reply to it (its error bytes when <see cref="Rejected"/>).</param>
/// <remarks>Rows of sessions hold timestamp 0 until the session's first update; a registration nonce's row holds the
/// session id it created as its result (<see cref="ClientSession"/>).</remarks>
public readonly record struct ClientTableEntry(ClientId Client, long Timestamp, SequenceNumber Sequence, ReadOnlyMemory<byte> Result)
{
    /// <summary>Whether the executor rejected the update (<see cref="UpdateRejectedException"/>) rather than answered it.</summary>
    public bool Rejected { get; init; }
}

/// <summary>
/// A snapshot the replica took (<see cref="OutputBatch.Snapshot"/>), for its host to make durable — at its own pace,
/// on any thread, while ordering goes on — and then to report with <c>PaxosReplica.AcknowledgeSnapshot</c>.
/// </summary>
/// <param name="state">The replica's part.</param>
/// <param name="executor">The executor's capture; written once, then disposed by whoever writes it.</param>
/// <param name="batchNumber">The batch the snapshot was taken in. The replica wrote its pending updates again in that
/// batch, so once it is durable, log records older than it hold nothing the snapshot and the newer log do not.</param>
public sealed class TakenSnapshot(SnapshotState state, IExecutorSnapshot executor, long batchNumber)
{
    /// <summary>The replica's part.</summary>
    public SnapshotState State { get; } = state;

    /// <summary>The executor's capture.</summary>
    public IExecutorSnapshot Executor { get; } = executor;

    /// <summary>The batch the snapshot was taken in.</summary>
    public long BatchNumber { get; } = batchNumber;
}

/// <summary>A durable snapshot, as storage hands it back: at recovery (<see cref="PersistentState.Snapshot"/>) or once a
/// snapshot received from a peer is complete and verified.</summary>
/// <param name="state">The replica's part.</param>
/// <param name="openExecutorState">Opens the executor's bytes for <see cref="ISnapshotExecutor.RestoreSnapshot"/>; the
/// caller disposes the stream.</param>
public sealed class StoredSnapshot(SnapshotState state, Func<Stream> openExecutorState)
{
    /// <summary>The replica's part.</summary>
    public SnapshotState State { get; } = state;

    /// <summary>Opens the executor's bytes; the caller disposes the stream.</summary>
    public Stream OpenExecutorState() => openExecutorState();
}
