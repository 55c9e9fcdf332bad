using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Paxos.Sample;
using Paxos.Sample.Protocol;

namespace Paxos.Crash.Tests;

/// <summary>An update a replica acknowledged, with the sequence number its reply named.</summary>
internal readonly record struct Acknowledged(long ClientId, long Timestamp, long Sequence);

/// <summary>
/// The crash test's clients. Each writer has one update outstanding (timestamps 1, 2, 3…). When its replica dies,
/// freezes, refuses or does not answer within <see cref="AttemptTimeout"/>, it submits the very same (client id,
/// timestamp) to the next replica, and so on until some replica answers — re-submitting is always safe, since an
/// update executes once whichever replica takes it. Every answer is recorded with its sequence number. Anything a
/// correct cluster never says (a stale or superseded refusal, an answer without a sequence) is an anomaly.
/// </summary>
internal sealed class CrashWriters(CrashCluster cluster, int writers)
{
    /// <summary>How long one attempt waits for its answer before the writer tries another replica.</summary>
    public static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(3);

    /// <summary>A bound on the attempts at one update; the test's overall time limit bounds them too.</summary>
    private const int MaxAttempts = 10_000;

    private readonly ConcurrentQueue<Acknowledged> _acknowledged = new();
    private readonly ConcurrentQueue<string> _anomalies = new();
    private volatile bool _stopping;
    private long _resubmissions;

    public IReadOnlyCollection<Acknowledged> Acknowledged => _acknowledged;

    public IReadOnlyCollection<string> Anomalies => _anomalies;

    /// <summary>Attempts after the first of an update: after a failure or a timeout, to the same or another replica.</summary>
    public long Resubmissions => Interlocked.Read(ref _resubmissions);

    public int Count => writers;

    /// <summary>Runs the writers until <see cref="StopIssuing"/>: each then finishes the update it has outstanding.</summary>
    public Task RunAsync(CancellationToken cancellationToken) =>
        Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(() => RunWriterAsync(w, cancellationToken), CancellationToken.None)));

    public void StopIssuing() => _stopping = true;

    private async Task RunWriterAsync(int index, CancellationToken cancellationToken)
    {
        var writer = new Writer(index + 1L, index % cluster.Size);
        try
        {
            for (var timestamp = 1L; !_stopping && !cancellationToken.IsCancellationRequested; timestamp++)
            {
                var payload = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"SET w{writer.ClientId}/{timestamp % 8} {timestamp}"));
                if (await SubmitUntilAnsweredAsync(writer, timestamp, payload, cancellationToken) is not { } sequence)
                {
                    return;
                }

                _acknowledged.Enqueue(new Acknowledged(writer.ClientId, timestamp, sequence));
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            _anomalies.Enqueue($"writer c{writer.ClientId} was cut off by the test's overall time limit");
        }
        finally
        {
            await writer.DisconnectAsync();
        }
    }

    /// <summary>The sequence the update executed at, once some replica answers; null after an anomaly.</summary>
    private async Task<long?> SubmitUntilAnsweredAsync(Writer writer, long timestamp, byte[] payload, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            if (attempt > 0)
            {
                Interlocked.Increment(ref _resubmissions);
            }

            var outcome = await AttemptAsync(writer, timestamp, payload, cancellationToken);
            switch (outcome)
            {
                case { Kind: SubmitOutcomeKind.Executed }:
                    if (KeyValueExecutor.TryParseReply(outcome.Result.Span, out var sequence, out _, out _))
                    {
                        return sequence;
                    }

                    _anomalies.Enqueue($"c{writer.ClientId}#{timestamp}: an answer of {outcome.Result.Length} bytes without a sequence number");
                    return null;
                case { Kind: SubmitOutcomeKind.Refused, Code: ErrorCode.Overloaded }:
                    await Task.Delay(20, cancellationToken);
                    break;
                case { Kind: SubmitOutcomeKind.Unreachable } or { Code: ErrorCode.Timeout or ErrorCode.Stopped or ErrorCode.Faulted }:
                    await writer.DisconnectAsync();
                    writer.Replica = (writer.Replica + 1) % cluster.Size;
                    await Task.Delay(10, cancellationToken); // Not a busy loop while every replica is unreachable.
                    break;
                default:
                    // Stale, Superseded, BadRequest, UpdateTooLarge: this writer never gives a correct cluster a reason.
                    _anomalies.Enqueue($"c{writer.ClientId}#{timestamp} refused by r{writer.Replica}: {outcome.Code}: {outcome.Message}");
                    return null;
            }
        }

        _anomalies.Enqueue($"c{writer.ClientId}#{timestamp}: no answer after {MaxAttempts} attempts");
        return null;
    }

    /// <summary>One attempt at the writer's replica, bounded by <see cref="AttemptTimeout"/>.</summary>
    private async Task<SubmitOutcome> AttemptAsync(Writer writer, long timestamp, byte[] payload, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(AttemptTimeout);
        try
        {
            writer.Client ??= await cluster.ConnectAsync(writer.Replica, deadline.Token);
            return await writer.Client.SubmitAsync(writer.ClientId, timestamp, payload, deadline.Token);
        }
        catch (Exception exception) when (exception is System.Net.Sockets.SocketException or TimeoutException or IOException
            || (exception is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return SubmitOutcome.Unreachable(exception.Message);
        }
    }

    private sealed class Writer(long clientId, int replica)
    {
        public long ClientId { get; } = clientId;

        public int Replica { get; set; } = replica;

        public ReplicaClient? Client { get; set; }

        public async Task DisconnectAsync()
        {
            if (Client is not null)
            {
                await Client.DisposeAsync();
                Client = null;
            }
        }
    }
}
