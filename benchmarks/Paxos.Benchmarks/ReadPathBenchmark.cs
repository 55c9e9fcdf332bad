using System.Diagnostics;
using System.Globalization;
using Paxos.Storage;
using Paxos.Transport;

namespace Paxos.Benchmarks;

/// <summary>
/// The host's own cost of a read (<c>--read-path</c>): one <see cref="PaxosNode"/> alone in its cluster (a majority by
/// itself, so the replica makes a read ready in the same iteration that takes it, with no round trip — the path a
/// leader's read takes when it needs none), in this process, with readers that each keep one
/// <see cref="PaxosNode.ReadAsync"/> outstanding with a cancellable token, as the UDP load generator's do. The
/// executor answers every query with one shared buffer, so what is allocated per read is the node's. Each run is
/// measured with the default delivery of answers and with <see cref="PaxosOptions.UnsafePreferInlineCompletions"/>.
/// </summary>
internal static class ReadPathBenchmark
{
    public static int Run(int readers, int seconds, int runs)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Read path: one node (cluster of 1) in this process, {readers} readers each keeping one ReadAsync outstanding, 1 s warm-up + {seconds} s measured, {runs} runs per mode, {Environment.ProcessorCount} cores"));
        foreach (var inline in new[] { false, true })
        {
            var results = new List<Result>();
            for (var run = 0; run < runs; run++)
            {
                var result = MeasureAsync(readers, TimeSpan.FromSeconds(seconds), inline).GetAwaiter().GetResult();
                Console.WriteLine($"  {(inline ? "inline " : "default")} run {run + 1}/{runs}: {result.Describe()}");
                results.Add(result);
            }

            var median = results.OrderBy(r => r.ReadsPerSecond).ElementAt(results.Count / 2);
            Console.WriteLine($"  {(inline ? "inline " : "default")} median:  {median.Describe()}");
        }

        return 0;
    }

    private static async Task<Result> MeasureAsync(int readers, TimeSpan measured, bool inline)
    {
        var options = new PaxosOptions
        {
            ReplicaId = 0,
            ClusterSize = 1,
            UnsafePreferInlineCompletions = inline,
            MaxPendingReads = Math.Max(readers, 16),
        };
        var network = new InProcessNetwork(1);
        await using var node = new PaxosNode(options, new ConstantReader(), network.CreateTransport(new ReplicaId(0)), new InMemoryReplicaStorage());
        await node.StartAsync();
        for (var i = 0; i < 2000 && node.Status.State != ReplicaState.RegularLeader; i++)
        {
            await Task.Delay(5);
        }

        using var stop = new CancellationTokenSource();
        var state = new RunState();
        var latencies = new List<double>[readers];
        var tasks = new Task[readers];
        for (var i = 0; i < readers; i++)
        {
            latencies[i] = new List<double>(1 << 16);
            var mine = latencies[i];
            tasks[i] = Task.Run(() => ReadLoopAsync(node, state, mine, stop.Token));
        }

        await Task.Delay(TimeSpan.FromSeconds(1));
        var before = Sample(state);
        Volatile.Write(ref state.Measuring, true);
        await Task.Delay(measured);
        Volatile.Write(ref state.Measuring, false);
        var after = Sample(state);
        stop.Cancel();
        await Task.WhenAll(tasks);

        var sorted = latencies.SelectMany(l => l).Order().ToList();
        var reads = after.Reads - before.Reads;
        var elapsed = (after.Clock - before.Clock) / (double)Stopwatch.Frequency;
        var perRead = Math.Max(reads, 1);
        return new Result(
            reads / elapsed,
            Percentiles.Of(sorted, 0.50) / 1e3,
            Percentiles.Of(sorted, 0.99) / 1e3,
            (after.Allocated - before.Allocated) / (double)perRead,
            (after.Cpu - before.Cpu).TotalMicroseconds / perRead,
            (after.WorkItems - before.WorkItems) / (double)perRead,
            (after.Contentions - before.Contentions) / (double)perRead,
            after.Gen0 - before.Gen0,
            Volatile.Read(ref state.Failures));
    }

    private static async Task ReadLoopAsync(PaxosNode node, RunState state, List<double> latencies, CancellationToken cancellationToken)
    {
        var query = new byte[] { (byte)'k' };
        while (!cancellationToken.IsCancellationRequested)
        {
            var start = Stopwatch.GetTimestamp();
            try
            {
                await node.ReadAsync(query, cancellationToken);
            }
            catch (PaxosReadException)
            {
                Interlocked.Increment(ref state.Failures);
                await Task.Delay(1, CancellationToken.None);
                continue;
            }
            catch (OperationCanceledException)
            {
                return;
            }

            Interlocked.Increment(ref state.Reads);
            if (Volatile.Read(ref state.Measuring) && latencies.Count < 4_000_000)
            {
                latencies.Add(Stopwatch.GetElapsedTime(start).TotalNanoseconds);
            }
        }
    }

    private static Snapshot Sample(RunState state) => new(
        Stopwatch.GetTimestamp(),
        Interlocked.Read(ref state.Reads),
        GC.GetTotalAllocatedBytes(precise: true),
        Process.GetCurrentProcess().TotalProcessorTime,
        ThreadPool.CompletedWorkItemCount,
        Monitor.LockContentionCount,
        GC.CollectionCount(0));

    private sealed class RunState
    {
        public long Reads;
        public long Failures;
        public bool Measuring;
    }

    private readonly record struct Snapshot(long Clock, long Reads, long Allocated, TimeSpan Cpu, long WorkItems, long Contentions, int Gen0);

    private sealed record Result(double ReadsPerSecond, double P50Micros, double P99Micros, double BytesPerRead, double CpuMicrosPerRead, double WorkItemsPerRead, double ContentionsPerRead, int Gen0, long Failures)
    {
        public string Describe() => string.Create(CultureInfo.InvariantCulture,
            $"{ReadsPerSecond,10:N0} reads/s  p50 {P50Micros,5:N0} µs  p99 {P99Micros,6:N0} µs  {BytesPerRead,5:N0} B/read  CPU {CpuMicrosPerRead:0.00} µs/read  {WorkItemsPerRead:0.000} pool items/read  {ContentionsPerRead:0.0000} lock contentions/read  gen0 {Gen0}  {Failures} failures");
    }

    /// <summary>Answers every query with the same bytes: no allocation of its own.</summary>
    private sealed class ConstantReader : IExecutor, IReadExecutor
    {
        private static readonly ReadOnlyMemory<byte> Answer = new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 };

        public ReadOnlyMemory<byte> Execute(in OrderedUpdate update) => Answer;

        public ReadOnlyMemory<byte> Read(ReadOnlySpan<byte> query) => Answer;
    }
}
