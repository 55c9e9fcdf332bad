using System.Text;
using Paxos.Storage;

namespace Paxos.Sample.Protocol;

/// <summary>
/// The sample's client protocol over TCP. A frame is a 4-byte little-endian length (of what follows, 1 to
/// <see cref="ClientFrames.MaxFrameBytes"/>), a one-byte <see cref="FrameType"/> and a body of fixed-width
/// little-endian fields. A client sends one request and waits for its answer before the next.
/// </summary>
internal enum FrameType : byte
{
    /// <summary>Client id (i64), timestamp (i64), payload (the rest). Answered by <see cref="SubmitReply"/> or <see cref="Error"/>.</summary>
    Submit = 0x01,

    /// <summary>Empty. Answered by <see cref="StatusReply"/>.</summary>
    Status = 0x02,

    /// <summary>A <see cref="LoadRequest"/>: run writers inside the replica's process. Answered by <see cref="LoadReply"/> or <see cref="Error"/>.</summary>
    Load = 0x03,

    /// <summary>From sequence (i64), at most how many (i32): the replica's executed updates from that sequence on.
    /// Answered by <see cref="HistoryReply"/>, or <see cref="Error"/> when the replica does not keep its history.</summary>
    History = 0x04,

    /// <summary>The executor's reply (the rest of the body), as <see cref="PaxosNode.SubmitAsync"/> returned it.</summary>
    SubmitReply = 0x81,

    /// <summary>An <see cref="ErrorCode"/> (u8), the leader hint (i32, −1 for none) and a UTF-8 message (the rest).</summary>
    Error = 0x82,

    /// <summary>A <see cref="ReplicaStatusInfo"/>.</summary>
    StatusReply = 0x83,

    /// <summary>A <see cref="LoadResult"/>.</summary>
    LoadReply = 0x84,

    /// <summary>Executed in all (i64), entries (i32), then each entry: sequence, client id, timestamp (i64 each).</summary>
    HistoryReply = 0x85,
}

/// <summary>Why a request failed: 1 to 6 are <see cref="SubmitFailure"/>'s values, the rest are the sample's own.</summary>
internal enum ErrorCode : byte
{
    Overloaded = SubmitFailure.Overloaded,
    UpdateTooLarge = SubmitFailure.UpdateTooLarge,
    Stale = SubmitFailure.Stale,
    Superseded = SubmitFailure.Superseded,
    Stopped = SubmitFailure.Stopped,
    Faulted = SubmitFailure.Faulted,

    /// <summary>The update was not answered in time; it may still execute. Re-submit the same (client, timestamp).</summary>
    Timeout = 100,

    /// <summary>The request's fields are out of range.</summary>
    BadRequest = 101,

    /// <summary>A load run is already going on in this process.</summary>
    Busy = 102,
}

/// <summary>A replica's state, as <see cref="FrameType.StatusReply"/> carries it.</summary>
internal sealed record ReplicaStatusInfo(
    int Id,
    ReplicaState State,
    long LastAttempted,
    long LastInstalled,
    int Leader,
    long LocalAru,
    long Executed,
    long LastExecutedSequence,
    ulong Digest,
    long PeakMemoryBytes,
    bool IsFaulted,
    int PendingUpdates,
    long DatagramsSent,
    long DatagramsReceived,
    int ProcessId,
    bool IsRebuilding,
    StorageStatus Storage)
{
    /// <summary>Whether this replica is the prepared leader of its view.</summary>
    public bool IsLeader => State == ReplicaState.RegularLeader;
}

/// <summary>
/// What a replica's storage did since its process started: zeros for a replica that keeps its state in memory.
/// </summary>
/// <param name="Durable">Whether the replica keeps a write-ahead log on disk.</param>
/// <param name="Fsyncs">fsync calls of every kind (log segments, the view file, the directory).</param>
/// <param name="BatchesPersisted">Output batches that wrote something (group commit: one per loop iteration at most).</param>
/// <param name="BytesWritten">Bytes appended to the log.</param>
/// <param name="FsyncTimeTicks">Time spent in fsync, in 100 ns ticks.</param>
/// <param name="RecoveredRecords">Log records read back when the process started.</param>
/// <param name="ReplayedUpdates">Updates the executor had executed when the node had started: those replayed from
/// the log.</param>
internal readonly record struct StorageStatus(
    bool Durable, long Fsyncs, long BatchesPersisted, long BytesWritten, long FsyncTimeTicks, long RecoveredRecords, long ReplayedUpdates)
{
    public static StorageStatus InMemory => default;

    public static StorageStatus From(StorageCounters? counters, long replayedUpdates) => counters is null
        ? new StorageStatus(false, 0, 0, 0, 0, 0, replayedUpdates)
        : new StorageStatus(true, counters.Fsyncs, counters.BatchesPersisted, counters.BytesWritten, counters.FsyncTimeTicks, counters.LastRecoveryRecordsRead, replayedUpdates);
}

/// <summary>A page of a replica's executed updates, as <see cref="FrameType.HistoryReply"/> carries it.</summary>
/// <param name="Executed">How many updates the replica executed in all, when it answered.</param>
/// <param name="Entries">The page, in sequence order.</param>
internal sealed record HistoryPage(long Executed, ExecutedEntry[] Entries);

/// <summary>What a <see cref="FrameType.Load"/> request asks: <paramref name="Writers"/> writers, each with one update
/// outstanding, for <paramref name="WarmupMillis"/> unmeasured then <paramref name="MeasureMillis"/> measured.
/// <paramref name="Readers"/> readers beside them each keep one linearizable read (<see cref="PaxosNode.ReadAsync"/>)
/// outstanding. A run without writers reads only; a run needs a writer or a reader.</summary>
internal readonly record struct LoadRequest(int Writers, int MeasureMillis, int PayloadBytes, int WarmupMillis, int Readers = 0)
{
    public const int MaxWriters = 1024;
    public const int MaxMillis = 120_000;
    public const int MinPayloadBytes = 16;

    /// <summary>Why the request is out of range, or null.</summary>
    public string? Validate(int maxPayloadBytes) =>
        Writers is < 0 or > MaxWriters ? $"writers must be 0 to {MaxWriters}"
        : Readers is < 0 or > MaxWriters ? $"readers must be 0 to {MaxWriters}"
        : Writers + Readers == 0 ? "a load run needs a writer or a reader"
        : MeasureMillis is < 100 or > MaxMillis ? $"the measured time must be 100 ms to {MaxMillis / 1000} s"
        : WarmupMillis is < 0 or > MaxMillis ? $"the warm-up must be 0 to {MaxMillis / 1000} s"
        : PayloadBytes < MinPayloadBytes || PayloadBytes > maxPayloadBytes ? $"the payload must be {MinPayloadBytes} to {maxPayloadBytes} bytes"
        : null;
}

/// <summary>What a load run measured inside the process that ran it; every count is over the measured interval only.</summary>
internal sealed record LoadResult(
    int Writers,
    long Updates,
    long Failures,
    double Seconds,
    long P50Nanos,
    long P99Nanos,
    long P999Nanos,
    long MaxNanos,
    long PeakMemoryBytes,
    long Gen0Collections,
    long Gen1Collections,
    long Gen2Collections,
    double UserCpuSeconds,
    double SystemCpuSeconds,
    long DatagramsSent,
    long DatagramsReceived,
    long FramesSent,
    long FramesReceived,
    long ThreadPoolWorkItems,
    long LockContentions,
    double GcPauseSeconds,
    long Reads = 0,
    long ReadFailures = 0,
    long ReadP50Nanos = 0,
    long ReadP99Nanos = 0)
{
    public double UpdatesPerSecond => Seconds > 0 ? Updates / Seconds : 0;

    public double ReadsPerSecond => Seconds > 0 ? Reads / Seconds : 0;
}

/// <summary>Encodes and decodes the frames' bodies. Decoders return false for a body that does not fit.</summary>
internal static class ClientMessages
{
    public const int MaxErrorTextBytes = 1024;

    /// <summary>The most entries one <see cref="FrameType.HistoryReply"/> carries: 48 KiB of entries, within a frame.</summary>
    public const int MaxHistoryEntries = 2048;

    private const int HistoryEntryBytes = 24;

    // Id, state, two views, leader, five 64-bit counters, faulted, pending, two datagram counts, process id,
    // rebuilding; then the storage: durable, six 64-bit counters.
    private const int StatusReplyBytes = 4 + 1 + (8 * 2) + 4 + (8 * 5) + 1 + 4 + (8 * 2) + 4 + 1 + 1 + (8 * 6);

    public static byte[] Submit(long clientId, long timestamp, ReadOnlySpan<byte> payload)
    {
        var frame = ClientFrames.Allocate(FrameType.Submit, 16 + payload.Length, out var body);
        var writer = new FieldWriter(body);
        writer.Int64(clientId);
        writer.Int64(timestamp);
        writer.Bytes(payload);
        return frame;
    }

    public static bool TryReadSubmit(ReadOnlySpan<byte> body, out long clientId, out long timestamp, out ReadOnlySpan<byte> payload)
    {
        var reader = new FieldReader(body);
        clientId = reader.Int64();
        timestamp = reader.Int64();
        payload = reader.Rest();
        return reader.Ok;
    }

    public static byte[] SubmitReply(ReadOnlySpan<byte> result)
    {
        var frame = ClientFrames.Allocate(FrameType.SubmitReply, result.Length, out var body);
        result.CopyTo(body);
        return frame;
    }

    public static byte[] Error(ErrorCode code, int leaderHint, string message)
    {
        var text = Encoding.UTF8.GetBytes(message);
        var length = Math.Min(text.Length, MaxErrorTextBytes);
        var frame = ClientFrames.Allocate(FrameType.Error, 5 + length, out var body);
        var writer = new FieldWriter(body);
        writer.Byte((byte)code);
        writer.Int32(leaderHint);
        writer.Bytes(text.AsSpan(0, length));
        return frame;
    }

    public static bool TryReadError(ReadOnlySpan<byte> body, out ErrorCode code, out int leaderHint, out string message)
    {
        var reader = new FieldReader(body);
        code = (ErrorCode)reader.Byte();
        leaderHint = reader.Int32();
        message = reader.RestAsText();
        return reader.Ok;
    }

    public static byte[] Status() => ClientFrames.Allocate(FrameType.Status, 0, out _);

    public static byte[] StatusReply(ReplicaStatusInfo s)
    {
        var frame = ClientFrames.Allocate(FrameType.StatusReply, StatusReplyBytes, out var body);
        var w = new FieldWriter(body);
        w.Int32(s.Id);
        w.Byte((byte)s.State);
        w.Int64(s.LastAttempted);
        w.Int64(s.LastInstalled);
        w.Int32(s.Leader);
        w.Int64(s.LocalAru);
        w.Int64(s.Executed);
        w.Int64(s.LastExecutedSequence);
        w.Int64((long)s.Digest);
        w.Int64(s.PeakMemoryBytes);
        w.Byte(s.IsFaulted ? (byte)1 : (byte)0);
        w.Int32(s.PendingUpdates);
        w.Int64(s.DatagramsSent);
        w.Int64(s.DatagramsReceived);
        w.Int32(s.ProcessId);
        w.Byte(s.IsRebuilding ? (byte)1 : (byte)0);
        var storage = s.Storage;
        w.Byte(storage.Durable ? (byte)1 : (byte)0);
        w.Int64(storage.Fsyncs);
        w.Int64(storage.BatchesPersisted);
        w.Int64(storage.BytesWritten);
        w.Int64(storage.FsyncTimeTicks);
        w.Int64(storage.RecoveredRecords);
        w.Int64(storage.ReplayedUpdates);
        return frame;
    }

    public static bool TryReadStatusReply(ReadOnlySpan<byte> body, out ReplicaStatusInfo status)
    {
        var r = new FieldReader(body);
        status = new ReplicaStatusInfo(
            r.Int32(), (ReplicaState)r.Byte(), r.Int64(), r.Int64(), r.Int32(), r.Int64(), r.Int64(), r.Int64(),
            (ulong)r.Int64(), r.Int64(), r.Byte() != 0, r.Int32(), r.Int64(), r.Int64(), r.Int32(), r.Byte() != 0,
            new StorageStatus(r.Byte() != 0, r.Int64(), r.Int64(), r.Int64(), r.Int64(), r.Int64(), r.Int64()));
        return r.Complete;
    }

    public static byte[] History(long fromSequence, int maxCount)
    {
        var frame = ClientFrames.Allocate(FrameType.History, 12, out var body);
        var w = new FieldWriter(body);
        w.Int64(fromSequence);
        w.Int32(maxCount);
        return frame;
    }

    public static bool TryReadHistory(ReadOnlySpan<byte> body, out long fromSequence, out int maxCount)
    {
        var r = new FieldReader(body);
        fromSequence = r.Int64();
        maxCount = r.Int32();
        return r.Complete;
    }

    public static byte[] HistoryReply(HistoryPage page)
    {
        var frame = ClientFrames.Allocate(FrameType.HistoryReply, 12 + (HistoryEntryBytes * page.Entries.Length), out var body);
        var w = new FieldWriter(body);
        w.Int64(page.Executed);
        w.Int32(page.Entries.Length);
        foreach (var entry in page.Entries)
        {
            w.Int64(entry.Sequence);
            w.Int64(entry.ClientId);
            w.Int64(entry.Timestamp);
        }

        return frame;
    }

    public static bool TryReadHistoryReply(ReadOnlySpan<byte> body, out HistoryPage page)
    {
        var r = new FieldReader(body);
        var executed = r.Int64();
        var count = r.Int32();
        if (!r.Ok || count < 0 || count > MaxHistoryEntries || body.Length != 12 + (HistoryEntryBytes * count))
        {
            page = new HistoryPage(0, []);
            return false;
        }

        var entries = new ExecutedEntry[count];
        for (var i = 0; i < count; i++)
        {
            entries[i] = new ExecutedEntry(r.Int64(), r.Int64(), r.Int64());
        }

        page = new HistoryPage(executed, entries);
        return r.Complete;
    }

    public static byte[] Load(LoadRequest request)
    {
        var frame = ClientFrames.Allocate(FrameType.Load, 20, out var body);
        var w = new FieldWriter(body);
        w.Int32(request.Writers);
        w.Int32(request.MeasureMillis);
        w.Int32(request.PayloadBytes);
        w.Int32(request.WarmupMillis);
        w.Int32(request.Readers);
        return frame;
    }

    public static bool TryReadLoad(ReadOnlySpan<byte> body, out LoadRequest request)
    {
        var r = new FieldReader(body);
        request = new LoadRequest(r.Int32(), r.Int32(), r.Int32(), r.Int32(), r.Int32());
        return r.Complete;
    }

    public static byte[] LoadReply(LoadResult x)
    {
        var frame = ClientFrames.Allocate(FrameType.LoadReply, 4 + (8 * 24), out var body);
        var w = new FieldWriter(body);
        w.Int32(x.Writers);
        w.Int64(x.Updates);
        w.Int64(x.Failures);
        w.Double(x.Seconds);
        w.Int64(x.P50Nanos);
        w.Int64(x.P99Nanos);
        w.Int64(x.P999Nanos);
        w.Int64(x.MaxNanos);
        w.Int64(x.PeakMemoryBytes);
        w.Int64(x.Gen0Collections);
        w.Int64(x.Gen1Collections);
        w.Int64(x.Gen2Collections);
        w.Double(x.UserCpuSeconds);
        w.Double(x.SystemCpuSeconds);
        w.Int64(x.DatagramsSent);
        w.Int64(x.DatagramsReceived);
        w.Int64(x.FramesSent);
        w.Int64(x.FramesReceived);
        w.Int64(x.ThreadPoolWorkItems);
        w.Int64(x.LockContentions);
        w.Double(x.GcPauseSeconds);
        w.Int64(x.Reads);
        w.Int64(x.ReadFailures);
        w.Int64(x.ReadP50Nanos);
        w.Int64(x.ReadP99Nanos);
        return frame;
    }

    public static bool TryReadLoadReply(ReadOnlySpan<byte> body, out LoadResult result)
    {
        var r = new FieldReader(body);
        result = new LoadResult(
            r.Int32(), r.Int64(), r.Int64(), r.Double(), r.Int64(), r.Int64(), r.Int64(), r.Int64(), r.Int64(),
            r.Int64(), r.Int64(), r.Int64(), r.Double(), r.Double(), r.Int64(), r.Int64(), r.Int64(), r.Int64(), r.Int64(), r.Int64(), r.Double(),
            r.Int64(), r.Int64(), r.Int64(), r.Int64());
        return r.Complete;
    }
}
