using System.Diagnostics;
using System.Text;
using Paxos.Sample.Protocol;

namespace Paxos.Sample.Replica;

/// <summary>Datagram and frame counts of a transport, for the per-update cost a load run reports.</summary>
internal readonly record struct TrafficCounts(long DatagramsSent, long DatagramsReceived, long FramesSent, long FramesReceived);

/// <summary>
/// Runs writers inside this process against its own <see cref="PaxosNode"/>, so that a measurement sees the
/// replication engine and its network and not a client connection: each writer awaits
/// <see cref="PaxosNode.SubmitAsync"/> before it submits its next update (one outstanding update per client,
/// timestamps 1, 2, 3…), first for a warm-up, then for the measured interval. Latency is taken per
/// <see cref="PaxosNode.SubmitAsync"/> call with <see cref="Stopwatch"/>.
/// </summary>
internal sealed class LoadGenerator(PaxosNode node, Func<TrafficCounts> traffic)
{
    private const int PayloadsPerWriter = 8;
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(10);

    // Client ids of load writers start high, so they never meet the ids a person or the demo uses, and each run
    // takes fresh ones: a client's timestamps must keep increasing. The process's start time (in milliseconds, 36
    // bits) is part of the base, so that a replica restarted under load (the soak restarts them) does not hand its
    // new writers the ids, and timestamps from 1, that its previous process's writers already used: the cluster
    // would refuse them as stale. To reach its successor's base, a process would have to use 2^20 ids for every
    // millisecond between their starts. Ids stay positive for every replica id below ReplicaId.MaxClusterSize
    // (64 << 56 = 2^62).
    private long _nextClient = (((long)node.Id.Value + 1) << 56) | ((DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() & ((1L << 36) - 1)) << 20);
    private volatile int _phase;

    private enum Phase
    {
        Warmup,
        Measuring,
        Stopped,
    }

    public async Task<LoadResult> RunAsync(LoadRequest request, CancellationToken cancellationToken)
    {
        _phase = (int)Phase.Warmup;
        var writers = new Writer[request.Writers];
        for (var i = 0; i < writers.Length; i++)
        {
            writers[i] = new Writer(Interlocked.Increment(ref _nextClient), Payloads(i, request.PayloadBytes));
        }

        var readers = new Reader[request.Readers];
        for (var i = 0; i < readers.Length; i++)
        {
            // Each reader reads the keys one writer sets (SET w{writer}/{k}), in turn. Without writers (a read-only run)
            // reader i reads the keys writer i would set: whether they exist does not change the read's path.
            var writer = request.Writers > 0 ? i % request.Writers : i;
            readers[i] = new Reader(Array.ConvertAll(Enumerable.Range(0, PayloadsPerWriter).ToArray(), k => (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes($"w{writer}/{k}")));
        }

        using var abandon = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var tasks = Array.ConvertAll(writers, w => Task.Run(() => RunWriterAsync(w, abandon.Token), CancellationToken.None))
            .Concat(Array.ConvertAll(readers, r => Task.Run(() => RunReaderAsync(r, abandon.Token), CancellationToken.None))).ToArray();
        await Task.Delay(request.WarmupMillis, cancellationToken);

        var before = Sample();
        _phase = (int)Phase.Measuring;
        await Task.Delay(request.MeasureMillis, cancellationToken);
        _phase = (int)Phase.Stopped;
        var after = Sample();

        // Writers stop at their next answer; one whose update never comes back is abandoned after a grace period.
        abandon.CancelAfter(StopGrace);
        await Task.WhenAll(tasks);
        return Summarize(request, writers, readers, before, after);
    }

    /// <summary>One linearizable read outstanding at a time, at this replica, until the run stops.</summary>
    private async Task RunReaderAsync(Reader reader, CancellationToken cancellationToken)
    {
        var next = 0;
        while (_phase != (int)Phase.Stopped && !cancellationToken.IsCancellationRequested)
        {
            var start = Stopwatch.GetTimestamp();
            try
            {
                await node.ReadAsync(reader.Keys[next++ % reader.Keys.Length], cancellationToken);
            }
            catch (PaxosReadException exception) when (exception.Reason is ReadFailure.Overloaded or ReadFailure.LeaderUnknown or ReadFailure.NotLeader or ReadFailure.Timeout)
            {
                reader.Failures++;
                await Task.Delay(1, CancellationToken.None);
                continue;
            }
            catch (Exception exception) when (exception is PaxosReadException or OperationCanceledException)
            {
                reader.Failures++;
                return;
            }

            if (_phase == (int)Phase.Measuring)
            {
                reader.Latencies.Record((long)Stopwatch.GetElapsedTime(start).TotalNanoseconds);
            }
        }
    }

    private async Task RunWriterAsync(Writer writer, CancellationToken cancellationToken)
    {
        // A fresh writer starts a session above the client table's expiry mark: once the cluster has forgotten any idle
        // client, a first update at timestamp 1 would be refused as a possible retry of a forgotten one.
        var timestamp = node.Status.SessionStartTimestamp - 1;
        while (_phase != (int)Phase.Stopped && !cancellationToken.IsCancellationRequested)
        {
            timestamp++;
            var update = new ClientUpdate(new ClientId(writer.ClientId), timestamp, writer.Payloads[timestamp % PayloadsPerWriter]);
            var start = Stopwatch.GetTimestamp();
            try
            {
                await node.SubmitAsync(update, cancellationToken);
            }
            catch (PaxosSubmitException exception) when (exception.Reason == SubmitFailure.Overloaded)
            {
                // Refused, not taken: the same timestamp is submitted again, after a moment.
                writer.Failures++;
                timestamp--;
                await Task.Delay(1, CancellationToken.None);
                continue;
            }
            catch (PaxosSubmitException exception) when (exception.Reason == SubmitFailure.SessionExpired)
            {
                // Refused as a possible retry of a forgotten client (the mark rose past this session's start meanwhile):
                // not executed, so a new session goes on from above the mark.
                writer.Failures++;
                timestamp = node.Status.SessionStartTimestamp - 1;
                continue;
            }
            catch (Exception exception) when (exception is PaxosSubmitException or OperationCanceledException)
            {
                writer.Failures++;
                return;
            }

            if (_phase == (int)Phase.Measuring)
            {
                writer.Latencies.Record((long)Stopwatch.GetElapsedTime(start).TotalNanoseconds);
            }
        }
    }

    private LoadResult Summarize(LoadRequest request, Writer[] writers, Reader[] readers, Snapshot before, Snapshot after)
    {
        var reads = new LatencyHistogram();
        long readFailures = 0;
        foreach (var reader in readers)
        {
            reads.Add(reader.Latencies);
            readFailures += reader.Failures;
        }

        var latencies = new LatencyHistogram();
        long failures = 0;
        foreach (var writer in writers)
        {
            latencies.Add(writer.Latencies);
            failures += writer.Failures;
        }

        return new LoadResult(
            request.Writers,
            latencies.Count,
            failures,
            (after.Clock - before.Clock) / (double)Stopwatch.Frequency,
            latencies.Percentile(0.50),
            latencies.Percentile(0.99),
            latencies.Percentile(0.999),
            latencies.Max,
            ProcessMetrics.PeakMemoryBytes(),
            after.Gen0 - before.Gen0,
            after.Gen1 - before.Gen1,
            after.Gen2 - before.Gen2,
            (after.User - before.User).TotalSeconds,
            (after.System - before.System).TotalSeconds,
            after.Traffic.DatagramsSent - before.Traffic.DatagramsSent,
            after.Traffic.DatagramsReceived - before.Traffic.DatagramsReceived,
            after.Traffic.FramesSent - before.Traffic.FramesSent,
            after.Traffic.FramesReceived - before.Traffic.FramesReceived,
            after.WorkItems - before.WorkItems,
            after.LockContentions - before.LockContentions,
            (after.GcPause - before.GcPause).TotalSeconds,
            reads.Count,
            readFailures,
            reads.Count > 0 ? reads.Percentile(0.50) : 0,
            reads.Count > 0 ? reads.Percentile(0.99) : 0);
    }

    private Snapshot Sample()
    {
        var (user, system) = ProcessMetrics.CpuTime();
        return new Snapshot(
            Stopwatch.GetTimestamp(),
            GC.CollectionCount(0),
            GC.CollectionCount(1),
            GC.CollectionCount(2),
            user,
            system,
            traffic(),
            ThreadPool.CompletedWorkItemCount,
            Monitor.LockContentionCount,
            GC.GetTotalPauseDuration());
    }

    /// <summary>A few fixed payloads per writer, <c>SET w12/3 xxxx…</c>, exactly <paramref name="bytes"/> long. Payloads
    /// are never changed once submitted, so they can be shared between updates.</summary>
    private static ReadOnlyMemory<byte>[] Payloads(int writer, int bytes)
    {
        var payloads = new ReadOnlyMemory<byte>[PayloadsPerWriter];
        for (var k = 0; k < payloads.Length; k++)
        {
            var text = new StringBuilder($"SET w{writer}/{k} ");
            text.Append('x', Math.Max(0, bytes - text.Length));
            payloads[k] = Encoding.UTF8.GetBytes(text.ToString(0, bytes));
        }

        return payloads;
    }

    private sealed class Writer(long clientId, ReadOnlyMemory<byte>[] payloads)
    {
        public long ClientId { get; } = clientId;

        public ReadOnlyMemory<byte>[] Payloads { get; } = payloads;

        public LatencyHistogram Latencies { get; } = new();

        public long Failures { get; set; }
    }

    private sealed class Reader(ReadOnlyMemory<byte>[] keys)
    {
        public ReadOnlyMemory<byte>[] Keys { get; } = keys;

        public LatencyHistogram Latencies { get; } = new();

        public long Failures { get; set; }
    }

    private readonly record struct Snapshot(
        long Clock, long Gen0, long Gen1, long Gen2, TimeSpan User, TimeSpan System, TrafficCounts Traffic, long WorkItems, long LockContentions, TimeSpan GcPause);
}
