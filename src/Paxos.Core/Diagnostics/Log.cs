using Microsoft.Extensions.Logging;

namespace Paxos.Diagnostics;

// Every log line of the library is source-generated. Event ids by area: 1000–1099 leader election,
// 1100–1199 Prepare phase, 1200–1299 global ordering, 1300–1399 client handling, 1400–1499 reconciliation,
// 1900–1999 faults (the protocol's lines, in Protocol/Log.cs: they name protocol types, and this namespace sits
// below the protocol); 2000–2999 the node; 3000–3999 transports; 4000–4999 storage.

/// <summary>The node's log lines (event ids 2000–2999).</summary>
internal static partial class NodeLog
{
    [LoggerMessage(2000, LogLevel.Information, "Node {Replica} started: cluster of {ClusterSize}, recovered view {LastInstalled}")]
    public static partial void Started(ILogger logger, ReplicaId replica, int clusterSize, ViewNumber lastInstalled);

    [LoggerMessage(2001, LogLevel.Information, "Node {Replica} stopped")]
    public static partial void Stopped(ILogger logger, ReplicaId replica);

    [LoggerMessage(2002, LogLevel.Critical, "Node {Replica} stopped after a failure (fail-stop)")]
    public static partial void Faulted(ILogger logger, ReplicaId replica, Exception exception);
}

/// <summary>The file storage's log lines (event ids 4000–4999).</summary>
internal static partial class StorageLog
{
    [LoggerMessage(4000, LogLevel.Information, "Storage {Directory}: recovered view {LastInstalled} and {Records} log records from {Segments} segment(s)")]
    public static partial void Recovered(ILogger logger, string directory, ViewNumber lastInstalled, long records, int segments);

    [LoggerMessage(4001, LogLevel.Warning, "Storage {Directory}: cut a torn write of {TornBytes} bytes off {File} at offset {Offset} (a crash interrupted a write that was never acknowledged)")]
    public static partial void CutTornTail(ILogger logger, string directory, string file, long offset, long tornBytes);

    [LoggerMessage(4002, LogLevel.Warning, "Storage {Directory}: {File} has no header (a crash or a full disk interrupted its creation) and holds nothing; its header is written with its first records")]
    public static partial void ResumedTornSegment(ILogger logger, string directory, string file);

    [LoggerMessage(4003, LogLevel.Debug, "Storage {Directory}: deleted a view.tmp that was never renamed into place")]
    public static partial void DeletedViewTemp(ILogger logger, string directory);

    [LoggerMessage(4004, LogLevel.Debug, "Storage {Directory}: started segment {File}")]
    public static partial void StartedSegment(ILogger logger, string directory, string file);

    [LoggerMessage(4005, LogLevel.Critical, "Storage {Directory}: stopped after a failed write, fsync or recovery; the storage refuses every further call (fail-stop)")]
    public static partial void Faulted(ILogger logger, string directory, Exception exception);

    [LoggerMessage(4006, LogLevel.Error, "Storage {Directory}: could not record the failed fsync in {File}; do not restart a replica on this directory before the machine reboots")]
    public static partial void SyncFailureNotRecorded(ILogger logger, string directory, string file, Exception exception);

    [LoggerMessage(4007, LogLevel.Warning, "Storage {Directory}: an fsync failed before the machine last restarted ({Failure}); what the log now reads is what the disk held, so recovery goes on and {File} is removed")]
    public static partial void SyncFailureCleared(ILogger logger, string directory, string file, string failure);

    [LoggerMessage(4020, LogLevel.Information, "Storage {Directory}: recorded that the directory belongs to {Identity}")]
    public static partial void IdentityRecorded(ILogger logger, string directory, string identity);

    [LoggerMessage(4021, LogLevel.Warning, "Storage {Directory}: the directory holds a log but no identity file (it was written by a version that did not record one, in the same format), so it is now recorded as belonging to {Identity}; if it is not that replica's directory, stop the replica and restore the directory")]
    public static partial void IdentityRecordedForExistingDirectory(ILogger logger, string directory, string identity);

    [LoggerMessage(4030, LogLevel.Information, "Storage {Directory}: wrote snapshot {File} ({Bytes} bytes) covering up to sequence {Sequence}")]
    public static partial void SnapshotWritten(ILogger logger, string directory, string file, long bytes, long sequence);

    [LoggerMessage(4031, LogLevel.Warning, "Storage {Directory}: snapshot {File} is damaged ({Reason}); it is set aside as .snap.damaged and recovery falls back to the snapshot before it")]
    public static partial void SnapshotDamaged(ILogger logger, string directory, string file, string reason);

    [LoggerMessage(4032, LogLevel.Information, "Storage {Directory}: recovering from snapshot {File} (sequence {Sequence}) and the log after it")]
    public static partial void RecoveredSnapshot(ILogger logger, string directory, string file, SequenceNumber sequence);

    [LoggerMessage(4033, LogLevel.Debug, "Storage {Directory}: deleted {File}, a snapshot never completed")]
    public static partial void DeletedUnfinishedSnapshot(ILogger logger, string directory, string file);

    [LoggerMessage(4034, LogLevel.Information, "Storage {Directory}: released log segment {File}, whose every record snapshot {Sequence} covers")]
    public static partial void ReleasedSegment(ILogger logger, string directory, string file, long sequence);

    [LoggerMessage(4035, LogLevel.Information, "Storage {Directory}: received snapshot {File} ({Bytes} bytes) covering up to sequence {Sequence} from a peer")]
    public static partial void SnapshotReceived(ILogger logger, string directory, string file, long bytes, long sequence);

    [LoggerMessage(4036, LogLevel.Debug, "Storage {Directory}: deleted snapshot {File}; the two newer ones are kept")]
    public static partial void DeletedSnapshot(ILogger logger, string directory, string file);

    [LoggerMessage(4037, LogLevel.Warning, "Storage {Directory}: received snapshot {Sequence} is not valid and was discarded: {Reason}")]
    public static partial void ReceivedSnapshotRefused(ILogger logger, string directory, long sequence, string reason);
}
