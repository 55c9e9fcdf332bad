using Microsoft.Extensions.Logging;

namespace Paxos.Sample;

/// <summary>The sample's own log lines (event ids 5000–5099), source-generated like the library's.</summary>
internal static partial class SampleLog
{
    [LoggerMessage(5000, LogLevel.Information, "Replica {Replica} ready: UDP {Udp}, the sample's client protocol on TCP {Client}, Paxos.Client on TCP {Listener}, cluster of {ClusterSize}, storage {Storage}")]
    public static partial void Ready(ILogger logger, int replica, string udp, string client, string listener, int clusterSize, string storage);

    [LoggerMessage(5001, LogLevel.Warning, "Accepting a client connection failed: {Error}")]
    public static partial void AcceptFailed(ILogger logger, string error);

    [LoggerMessage(5002, LogLevel.Debug, "Closed the connection of client {Remote}: {Reason}")]
    public static partial void ClientDropped(ILogger logger, string remote, string reason);

    [LoggerMessage(5003, LogLevel.Error, "Serving client {Remote} failed; its connection is closed")]
    public static partial void HandlerFailed(ILogger logger, string remote, Exception exception);

    [LoggerMessage(5004, LogLevel.Information, "Load run: {Writers} writers, {PayloadBytes}-byte updates, {WarmupMillis} ms warm-up, {MeasureMillis} ms measured")]
    public static partial void LoadStarted(ILogger logger, int writers, int payloadBytes, int warmupMillis, int measureMillis);

    [LoggerMessage(5005, LogLevel.Information, "Load run done: {Updates} updates in {Seconds:0.00} s, p50 {P50Micros} µs, p99 {P99Micros} µs, {Failures} failures")]
    public static partial void LoadFinished(ILogger logger, long updates, double seconds, long p50Micros, long p99Micros, long failures);

    [LoggerMessage(5006, LogLevel.Information, "Replica {Replica} stopping")]
    public static partial void Stopping(ILogger logger, int replica);

    [LoggerMessage(5007, LogLevel.Information, "Replica {Replica} data directory {Directory}{Note}")]
    public static partial void DataDirectory(ILogger logger, int replica, string directory, string note);

    [LoggerMessage(5008, LogLevel.Information, "Replica {Replica} recovered from its log: view {View}, {Records} log records read; replayed {Executed} updates (last sequence {LastSequence}); {TornBytes} torn bytes cut off")]
    public static partial void Recovered(ILogger logger, int replica, long view, long records, long executed, long lastSequence, long tornBytes);

    [LoggerMessage(5011, LogLevel.Information, "Replica {Replica} restored its snapshot at sequence {Sequence} ({Executed} updates); the log after it follows")]
    public static partial void SnapshotRestored(ILogger logger, int replica, long sequence, long executed);

    [LoggerMessage(5009, LogLevel.Information, "Replica {Replica} data directory {Directory} is empty: a first start")]
    public static partial void FirstStart(ILogger logger, int replica, string directory);

    [LoggerMessage(5010, LogLevel.Warning, "Replica {Replica}: --rebuild is ignored: {Directory} holds state, and that state is what the replica promised")]
    public static partial void RebuildIgnored(ILogger logger, int replica, string directory);
}
