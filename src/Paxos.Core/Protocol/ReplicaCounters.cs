namespace Paxos.Protocol;

/// <summary>
/// Counts of what a replica did and ignored, for metrics and tests; the values only grow. A replica's own
/// <see cref="PaxosReplica.Counters"/> are written by whoever steps the replica, without synchronisation: read them
/// from that thread (or after it stopped). From other threads, read a copy: <see cref="PaxosNode.GetCounters"/>.
/// </summary>
public sealed class ReplicaCounters
{
    // Not readonly: Snapshot gives the copy an array of its own.
    private long[] _dropped = new long[Enum.GetValues<DropReason>().Length];

    /// <summary>Messages passed to <see cref="PaxosReplica.Step"/>.</summary>
    public long MessagesReceived { get; internal set; }

    /// <summary>Messages ignored, for any reason.</summary>
    public long MessagesDropped { get; private set; }

    /// <summary>Times this replica began attempting a new view (Shift_to_Leader_Election).</summary>
    public long ViewChangesStarted { get; internal set; }

    /// <summary>Times a majority voted for this replica's attempted view (preinstall).</summary>
    public long ViewsPreinstalled { get; internal set; }

    /// <summary>Times this replica installed a view (as leader or non-leader).</summary>
    public long ViewsInstalled { get; internal set; }

    /// <summary>Times a non-leader rejoined the view it had left (G15).</summary>
    public long SameViewRejoins { get; internal set; }

    /// <summary>Times a rebuilding replica joined a view through its leader's VC_Proof.</summary>
    public long RebuildJoins { get; internal set; }

    /// <summary>Answers sent to replicas rebuilding a lost disk.</summary>
    public long RebuildRepliesSent { get; internal set; }

    /// <summary>Views this replica left as their regular leader because a rebuilding replica may not install them.</summary>
    public long RebuildViewChanges { get; internal set; }

    /// <summary>Times a rebuilding replica finished and began to vote again.</summary>
    public long RebuildsCompleted { get; internal set; }

    /// <summary>Times this replica became the prepared leader of a view.</summary>
    public long ViewsLed { get; internal set; }

    /// <summary>Prepare_Reject answers sent to a leader too far behind.</summary>
    public long PrepareRejectsSent { get; internal set; }

    /// <summary>Proposal messages the leader sent for the first time.</summary>
    public long ProposalsSent { get; internal set; }

    /// <summary>Proposal messages the leader sent again after a timeout.</summary>
    public long ProposalsRetransmitted { get; internal set; }

    /// <summary>Proposals the leader had to send again that then got every slot executed: losses that
    /// retransmission recovered.</summary>
    public long ProposalsOrderedAfterRetransmission { get; internal set; }

    /// <summary>Slots re-proposed by a new leader because a Prepare_OK reported them (constrained slots).</summary>
    public long ConstrainedSlotsReproposed { get; internal set; }

    /// <summary>No-ops proposed to fill holes after a view change (G7).</summary>
    public long HoleNoOpsProposed { get; internal set; }

    /// <summary>No-ops an idle leader proposed as a heartbeat (G6).</summary>
    public long HeartbeatNoOpsProposed { get; internal set; }

    /// <summary>Slots ordered from Accepts at this replica.</summary>
    public long SlotsOrderedByAccepts { get; internal set; }

    /// <summary>Updates handed to the executor.</summary>
    public long UpdatesExecuted { get; internal set; }

    /// <summary>No-op slots executed (skipped by the executor).</summary>
    public long NoOpsExecuted { get; internal set; }

    /// <summary>Ordered duplicates of an executed update consumed without executing again (G12).</summary>
    public long DuplicatesSuppressed { get; internal set; }

    /// <summary>Re-submitted updates answered from the client table (G13).</summary>
    public long RepliesFromClientTable { get; internal set; }

    /// <summary>Clients the client table forgot because they executed nothing for <see cref="ProtocolOptions.ClientExpirySlots"/> slots.</summary>
    public long ClientsExpired { get; internal set; }

    /// <summary>Ordered updates refused, not executed, because their client had expired (the same on every replica).</summary>
    public long ExpiredUpdatesRefused { get; internal set; }

    /// <summary>Submissions refused at once because their client had expired and their timestamp could never execute.</summary>
    public long ExpiredSubmissionsRefused { get; internal set; }

    /// <summary>Session registrations executed (each made a session; replicated state: equal on every replica).</summary>
    public long SessionsRegistered { get; internal set; }

    /// <summary>Session updates refused at execution because they skipped a timestamp (<see cref="ReplyStatus.OutOfOrder"/>).</summary>
    public long OutOfOrderUpdatesRefused { get; internal set; }

    /// <summary>Updates the executor rejected (<see cref="UpdateRejectedException"/>); they count in
    /// <see cref="UpdatesExecuted"/> too.</summary>
    public long UpdatesRejected { get; internal set; }

    /// <summary>Local updates forwarded to the leader, counting retransmissions.</summary>
    public long UpdatesForwarded { get; internal set; }

    /// <summary>Catch-up requests this replica sent.</summary>
    public long CatchUpRequestsSent { get; internal set; }

    /// <summary>Catch-up requests this replica answered with at least one update.</summary>
    public long CatchUpRequestsServed { get; internal set; }

    /// <summary>Catch-up requests for released slots, answered by offering a snapshot instead.</summary>
    public long SnapshotsOffered { get; internal set; }

    /// <summary>Snapshots this replica took (<see cref="OutputBatch.Snapshot"/>).</summary>
    public long SnapshotsTaken { get; internal set; }

    /// <summary>Snapshots this replica installed from a peer (<see cref="PaxosReplica.InstallSnapshot"/>).</summary>
    public long SnapshotsInstalled { get; internal set; }

    /// <summary>Pieces of snapshot files this replica's host sent to peers (state transfer).</summary>
    public long SnapshotChunksSent { get; internal set; }

    /// <summary>Pieces of snapshot files this replica's host received and kept, in order.</summary>
    public long SnapshotChunksReceived { get; internal set; }

    /// <summary>Snapshots received whole that failed verification, or transfers abandoned for want of progress.</summary>
    public long SnapshotTransfersFailed { get; internal set; }

    /// <summary>Slots released from memory below durable snapshots.</summary>
    public long SlotsReleased { get; internal set; }

    /// <summary>Slots this replica learned ordered from a peer (catch-up or data list) rather than from Accepts.</summary>
    public long SlotsLearnedOrdered { get; internal set; }

    /// <summary>Linearizable reads taken from local clients.</summary>
    public long ReadsRequested { get; internal set; }

    /// <summary>Local reads listed ready to serve.</summary>
    public long ReadsServed { get; internal set; }

    /// <summary>Local reads failed (not leader, no leader, timed out, overloaded).</summary>
    public long ReadsFailed { get; internal set; }

    /// <summary>Confirmation rounds this replica started as leader.</summary>
    public long ReadRoundsStarted { get; internal set; }

    /// <summary>Reads, local or a peer's index request, the leader took under its lease, without a round.</summary>
    public long ReadsUnderLease { get; internal set; }

    /// <summary>Confirmation rounds the leader started only to renew its lease.</summary>
    public long LeaseRenewals { get; internal set; }

    /// <summary>Read-index requests sent to the leader (retransmissions included).</summary>
    public long ReadIndexRequestsSent { get; internal set; }

    /// <summary>Read indexes sent to peers as leader.</summary>
    public long ReadIndexRepliesSent { get; internal set; }

    /// <summary>Messages dropped for <paramref name="reason"/>.</summary>
    public long Dropped(DropReason reason) => _dropped[(int)reason];

    /// <summary>A copy of every value, which nothing writes to. Take it where no one writes to this instance
    /// meanwhile (the replica's thread, or under the node's loop).</summary>
    internal ReplicaCounters Snapshot()
    {
        // Every property, including ones added later, without a list to keep in step.
        var copy = (ReplicaCounters)MemberwiseClone();
        copy._dropped = (long[])_dropped.Clone();
        return copy;
    }

    internal void CountDrop(DropReason reason)
    {
        _dropped[(int)reason]++;
        MessagesDropped++;
    }
}
