using Microsoft.Extensions.Logging;
using Paxos.Messages;

namespace Paxos.Protocol;

/// <summary>The protocol's log lines (event ids 1000–1999; Diagnostics/Log.cs lists every area's range). Here rather
/// than with the others because they name the protocol's own types (messages, drop reasons).</summary>
internal static partial class Log
{
    [LoggerMessage(1000, LogLevel.Information, "Replica {Replica}: leader election for view {View}")]
    public static partial void ShiftedToLeaderElection(ILogger logger, ReplicaId replica, ViewNumber view);

    [LoggerMessage(1001, LogLevel.Debug, "Replica {Replica}: preinstalled view {View}; progress timeout {TimeoutTicks} ticks")]
    public static partial void Preinstalled(ILogger logger, ReplicaId replica, ViewNumber view, int timeoutTicks);

    [LoggerMessage(1002, LogLevel.Information, "Replica {Replica}: installed view {View} as non-leader; leader is {Leader}")]
    public static partial void ShiftedToRegularNonLeader(ILogger logger, ReplicaId replica, ViewNumber view, ReplicaId leader);

    [LoggerMessage(1003, LogLevel.Information, "Replica {Replica}: rejoined view {View} (leader {Leader} is still leading it)")]
    public static partial void RejoinedView(ILogger logger, ReplicaId replica, ViewNumber view, ReplicaId leader);

    [LoggerMessage(1004, LogLevel.Warning, "Replica {Replica}: storage is empty and the cluster exists; rebuilding from peers, not voting until that is safe")]
    public static partial void RebuildStarted(ILogger logger, ReplicaId replica);

    [LoggerMessage(1005, LogLevel.Information, "Replica {Replica}: rebuilding: joined view {View} led by {Leader}; its constrained range ends at slot {Target} (view floor {Floor})")]
    public static partial void RebuildJoined(ILogger logger, ReplicaId replica, ViewNumber view, ReplicaId leader, SequenceNumber target, ViewNumber floor);

    [LoggerMessage(1008, LogLevel.Information, "Replica {Replica}: leaving view {View} for view {Floor}: rebuilding replica {Rebuilding} may install no view below it")]
    public static partial void GaveWayToRebuild(ILogger logger, ReplicaId replica, ViewNumber view, ReplicaId rebuilding, ViewNumber floor);

    [LoggerMessage(1007, LogLevel.Information, "Replica {Replica}: rebuilding: {Answers} intact replicas answered; no view below {Floor} will be installed")]
    public static partial void RebuildFloorLearned(ILogger logger, ReplicaId replica, ViewNumber floor, int answers);

    [LoggerMessage(1006, LogLevel.Information, "Replica {Replica}: rebuild complete at slot {LocalAru}; voting again")]
    public static partial void RebuildCompleted(ILogger logger, ReplicaId replica, SequenceNumber localAru);

    [LoggerMessage(1010, LogLevel.Debug, "Replica {Replica}: dropped {Message} from {Sender}: {Reason}")]
    public static partial void Dropped(ILogger logger, ReplicaId replica, PaxosMessage message, ReplicaId sender, DropReason reason);

    [LoggerMessage(1100, LogLevel.Information, "Replica {Replica}: preparing view {View} from aru {LocalAru}")]
    public static partial void ShiftedToPreparePhase(ILogger logger, ReplicaId replica, ViewNumber view, SequenceNumber localAru);

    [LoggerMessage(1101, LogLevel.Information, "Replica {Replica}: leading view {View}; aru {LocalAru}, slots up to {ConstrainedUpTo} constrained")]
    public static partial void ShiftedToRegularLeader(ILogger logger, ReplicaId replica, ViewNumber view, SequenceNumber localAru, SequenceNumber constrainedUpTo);

    [LoggerMessage(1102, LogLevel.Debug, "Replica {Replica}: leader {Leader} of view {View} is behind (aru {LeaderAru} < {LocalAru}); asked it to catch up")]
    public static partial void PrepareRejected(ILogger logger, ReplicaId replica, ReplicaId leader, ViewNumber view, SequenceNumber leaderAru, SequenceNumber localAru);

    [LoggerMessage(1200, LogLevel.Debug, "Replica {Replica}: ordered duplicate {Update} at {Sequence} consumed without executing (G12)")]
    public static partial void DuplicateSuppressed(ILogger logger, ReplicaId replica, ClientUpdate update, SequenceNumber sequence);

    [LoggerMessage(1201, LogLevel.Debug, "Replica {Replica}: forgot {Count} clients idle for ClientExpirySlots before slot {Sequence}; expiry mark now timestamp {ExpiredThrough}")]
    public static partial void ClientsExpired(ILogger logger, ReplicaId replica, int count, SequenceNumber sequence, long expiredThrough);

    [LoggerMessage(1202, LogLevel.Information, "Replica {Replica}: refused {Update} at {Sequence} without executing it: its client expired (not in the client table, timestamp at or below the expiry mark {ExpiredThrough})")]
    public static partial void ExpiredUpdateRefused(ILogger logger, ReplicaId replica, ClientUpdate update, SequenceNumber sequence, long expiredThrough);

    [LoggerMessage(1203, LogLevel.Information, "Replica {Replica}: refused {Update} at {Sequence} without executing it: it skips a timestamp of its session")]
    public static partial void OutOfOrderUpdateRefused(ILogger logger, ReplicaId replica, ClientUpdate update, SequenceNumber sequence);

    [LoggerMessage(1204, LogLevel.Debug, "Replica {Replica}: registered session {Session} at {Sequence}")]
    public static partial void SessionRegistered(ILogger logger, ReplicaId replica, long session, SequenceNumber sequence);

    [LoggerMessage(1205, LogLevel.Information, "Replica {Replica}: the executor rejected {Update} at {Sequence} ({ErrorBytes} error bytes): {Reason}")]
    public static partial void UpdateRejected(ILogger logger, ReplicaId replica, ClientUpdate update, SequenceNumber sequence, int errorBytes, string reason);

    [LoggerMessage(1401, LogLevel.Error, "Replica {Replica}: slot {Sequence} is ordered here as {Ordered}, but replica {Sender} says {Reported}; ignored (a bug or a forged message)")]
    public static partial void ConflictingOrder(ILogger logger, ReplicaId replica, SequenceNumber sequence, ClientUpdate ordered, ClientUpdate reported, ReplicaId sender);

    [LoggerMessage(1400, LogLevel.Debug, "Replica {Replica}: catching up slots {From}..{To} from {Peer}")]
    public static partial void CatchUpRequested(ILogger logger, ReplicaId replica, SequenceNumber from, SequenceNumber to, ReplicaId peer);

    [LoggerMessage(1500, LogLevel.Information, "Replica {Replica}: installed a peer's snapshot at slot {Sequence} ({Clients} clients)")]
    public static partial void SnapshotInstalled(ILogger logger, ReplicaId replica, SequenceNumber sequence, int clients);

    [LoggerMessage(1501, LogLevel.Information, "Replica {Replica}: restored the snapshot at slot {Sequence} from storage")]
    public static partial void SnapshotRestored(ILogger logger, ReplicaId replica, SequenceNumber sequence);

    [LoggerMessage(1900, LogLevel.Critical, "Replica {Replica}: stopped (fail-stop)")]
    public static partial void Faulted(ILogger logger, ReplicaId replica, Exception exception);
}
