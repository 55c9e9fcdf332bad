using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Paxos.Sample.Protocol;

namespace Paxos.Sample.Demo;

/// <summary>
/// The demo's clients: each writer has its own client id and submits its updates one at a time (timestamps 1, 2,
/// 3…), awaiting each answer before the next, until the run's total is issued. A writer starts at replica
/// <c>index mod N</c>; when that replica dies it re-submits the very same (client id, timestamp) to another one —
/// the update then executes once, and the answer is the same whichever replica gives it (PfSB's client table, G13).
/// Every answer is recorded with the sequence number it names, for the final check.
/// </summary>
/// <param name="firstClientId">The first writer's client id; the others follow. A client's timestamps start at 1, so
/// ids must be new to the cluster: a replica that remembers a client refuses its old timestamps as stale.</param>
internal sealed class DemoWriters(IDemoCluster cluster, DemoConsole console, int writers, long total, long firstClientId)
{
    private const int MaxAttempts = 50;
    private const int MaxNarratedMoves = 4;
    private static readonly TimeSpan MaxTimePerUpdate = TimeSpan.FromSeconds(30);

    private readonly LatencyHistogram[] _latencies = [.. Enumerable.Range(0, writers).Select(_ => new LatencyHistogram())];
    private readonly ConcurrentQueue<string> _failures = new();
    private readonly List<ExecutedEntry>[] _answers = [.. Enumerable.Range(0, writers).Select(_ => new List<ExecutedEntry>())];
    private readonly TaskCompletionSource _killPoint = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _restartPoint = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _issued;
    private long _acknowledged;
    private long _moves;
    private int _narrated;

    public long Acknowledged => Interlocked.Read(ref _acknowledged);

    /// <summary>The first writer's client id; writer <c>i</c> is <c>FirstClientId + i</c>.</summary>
    public long FirstClientId => firstClientId;

    public int Count => writers;

    /// <summary>Completes when 40 % of the updates are acknowledged, so the leader can be killed right then even
    /// when the whole run takes less than one status poll.</summary>
    public Task KillPoint => _killPoint.Task;

    /// <summary>Completes at 65 %: the killed replica is restarted once its successor has ordered for a while.</summary>
    public Task RestartPoint => _restartPoint.Task;

    /// <summary>Updates re-submitted to another replica because theirs died or stopped answering.</summary>
    public long Moves => Interlocked.Read(ref _moves);

    /// <summary>Updates a writer gave up on, with why.</summary>
    public IReadOnlyCollection<string> Failures => _failures;

    public Task RunAsync(CancellationToken cancellationToken) =>
        Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(() => RunWriterAsync(w, cancellationToken), CancellationToken.None)));

    /// <summary>Every acknowledged update with the sequence number its answer named. Read once the writers finished.</summary>
    public IEnumerable<ExecutedEntry> Answers() => _answers.SelectMany(a => a);

    public LatencyHistogram Latencies()
    {
        var all = new LatencyHistogram();
        foreach (var histogram in _latencies)
        {
            all.Add(histogram);
        }

        return all;
    }

    private async Task RunWriterAsync(int index, CancellationToken cancellationToken)
    {
        var writer = new Writer(firstClientId + index, index % cluster.Size);
        try
        {
            for (var timestamp = 1L; Interlocked.Increment(ref _issued) <= total && !cancellationToken.IsCancellationRequested; timestamp++)
            {
                var payload = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"SET c{writer.ClientId}/k{timestamp % 16} v{timestamp}"));
                var start = Stopwatch.GetTimestamp();
                if (await SubmitUntilAnsweredAsync(writer, timestamp, payload, cancellationToken) is not { } reply)
                {
                    return;
                }

                _latencies[index].Record((long)Stopwatch.GetElapsedTime(start).TotalNanoseconds);
                _answers[index].Add(new ExecutedEntry(KeyValueExecutor.TryParseReply(reply.Span, out var sequence, out _, out _) ? sequence : -1, writer.ClientId, timestamp));
                var acknowledged = Interlocked.Increment(ref _acknowledged);
                if (acknowledged >= total * 4 / 10)
                {
                    _killPoint.TrySetResult();
                }

                if (acknowledged >= total * 65 / 100)
                {
                    _restartPoint.TrySetResult();
                }
            }
        }
        finally
        {
            await writer.DisconnectAsync();
        }
    }

    /// <summary>Submits one update until some replica answers it, moving to another replica when this one is gone.
    /// Returns the answer, or null when the writer gives up (recorded in <see cref="Failures"/>).</summary>
    private async Task<ReadOnlyMemory<byte>?> SubmitUntilAnsweredAsync(Writer writer, long timestamp, byte[] payload, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var moved = false;
        for (var attempt = 1; attempt <= MaxAttempts && Stopwatch.GetElapsedTime(started) < MaxTimePerUpdate; attempt++)
        {
            if (await writer.ConnectAsync(cluster, cancellationToken) is not { } submitter)
            {
                moved |= MoveOn(writer, timestamp, "cannot be reached");
                await Task.Delay(100, cancellationToken);
                continue;
            }

            var outcome = await submitter.SubmitAsync(writer.ClientId, timestamp, payload, cancellationToken);
            switch (outcome)
            {
                case { Kind: SubmitOutcomeKind.Executed }:
                    NarrateAnswer(writer, timestamp, moved, outcome.Result.Span);
                    return outcome.Result;
                case { Kind: SubmitOutcomeKind.Refused, Code: ErrorCode.Overloaded }:
                    await Task.Delay(10 * attempt, cancellationToken);
                    break;
                case { Kind: SubmitOutcomeKind.Refused, Code: ErrorCode.Timeout }:
                    break; // The replica still holds the update; asking again is safe and waits for it.
                case { Kind: SubmitOutcomeKind.Unreachable } or { Code: ErrorCode.Stopped or ErrorCode.Faulted }:
                    await writer.DisconnectAsync();
                    if (!cluster.IsAlive(writer.Replica) || ++writer.FailuresHere >= 2)
                    {
                        moved |= MoveOn(writer, timestamp, cluster.IsAlive(writer.Replica) ? "does not answer" : "is gone");
                    }

                    break;
                default:
                    _failures.Enqueue($"c{writer.ClientId}#{timestamp}: {outcome.Code}: {outcome.Message}");
                    return null;
            }
        }

        _failures.Enqueue($"c{writer.ClientId}#{timestamp}: no answer after {MaxAttempts} attempts or {MaxTimePerUpdate.TotalSeconds} s");
        return null;
    }

    /// <summary>Sends the writer to the next live replica, to re-submit the same update there.</summary>
    private bool MoveOn(Writer writer, long timestamp, string why)
    {
        var from = writer.Replica;
        for (var step = 1; step <= cluster.Size; step++)
        {
            var candidate = (from + step) % cluster.Size;
            if (cluster.IsAlive(candidate))
            {
                writer.Replica = candidate;
                break;
            }
        }

        writer.FailuresHere = 0;
        Interlocked.Increment(ref _moves);
        if (Interlocked.Increment(ref _narrated) <= MaxNarratedMoves)
        {
            console.Say($"writer c{writer.ClientId}: r{from} {why}; re-submitting the same update c{writer.ClientId}#{timestamp} to r{writer.Replica}");
        }

        return true;
    }

    private void NarrateAnswer(Writer writer, long timestamp, bool moved, ReadOnlySpan<byte> reply)
    {
        if (moved && Volatile.Read(ref _narrated) <= MaxNarratedMoves && KeyValueExecutor.TryParseReply(reply, out var sequence, out _, out _))
        {
            console.Say(string.Create(CultureInfo.InvariantCulture,
                $"writer c{writer.ClientId}: r{writer.Replica} answered c{writer.ClientId}#{timestamp}: executed once, at sequence {sequence}"));
        }
    }

    /// <summary>One writer's client id, the replica it talks to and its connection there.</summary>
    private sealed class Writer(long clientId, int replica)
    {
        private ISubmitter? _submitter;

        public long ClientId { get; } = clientId;

        public int Replica { get; set; } = replica;

        public int FailuresHere { get; set; }

        public async Task<ISubmitter?> ConnectAsync(IDemoCluster cluster, CancellationToken cancellationToken)
        {
            if (_submitter is null && cluster.IsAlive(Replica))
            {
                try
                {
                    _submitter = await cluster.ConnectAsync(Replica, cancellationToken);
                }
                catch (IOException)
                {
                    return null;
                }
            }

            return _submitter;
        }

        public async Task DisconnectAsync()
        {
            if (_submitter is not null)
            {
                await _submitter.DisposeAsync();
                _submitter = null;
            }
        }
    }
}
