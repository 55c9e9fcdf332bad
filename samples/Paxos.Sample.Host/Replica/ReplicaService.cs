using Microsoft.Extensions.Logging;
using Paxos.Sample.Protocol;

namespace Paxos.Sample.Replica;

/// <summary>Answers the client protocol for one replica: submissions go to its <see cref="PaxosNode"/>, status comes
/// from the node, its storage and the executor, the history from the executor, and load runs happen inside this
/// process, one at a time.</summary>
internal sealed class ReplicaService(
    PaxosNode node,
    KeyValueExecutor executor,
    PaxosOptions options,
    Func<TrafficCounts> traffic,
    ILogger logger) : IClientRequestHandler
{
    /// <summary>How long a submission waits for its update to execute before the client is told to try again.</summary>
    public static readonly TimeSpan SubmitTimeout = TimeSpan.FromSeconds(5);

    private readonly LoadGenerator _load = new(node, traffic);
    private int _loadRunning;

    /// <summary>Updates the executor had executed once the node started: those replayed from its log. Set once, before
    /// the client server starts serving.</summary>
    public long ReplayedUpdates { get; set; }

    public ValueTask<byte[]> HandleAsync(FrameType type, ReadOnlyMemory<byte> body, CancellationToken cancellationToken) => type switch
    {
        FrameType.Submit => SubmitAsync(body.Span, cancellationToken),
        FrameType.Status when body.IsEmpty => ValueTask.FromResult(ClientMessages.StatusReply(Status())),
        FrameType.Load => LoadAsync(body.Span, cancellationToken),
        FrameType.History => ValueTask.FromResult(History(body.Span)),
        _ => throw new ClientProtocolException($"Unknown request 0x{(byte)type:X2} with a body of {body.Length} bytes."),
    };

    public ReplicaStatusInfo Status()
    {
        var status = node.Status;
        var executed = executor.Snapshot();
        var counts = traffic();
        return new ReplicaStatusInfo(
            status.Id.Value, status.State, status.LastAttempted.Value, status.LastInstalled.Value, status.Leader.Value,
            status.LocalAru.Value, executed.Executed, executed.LastSequence, executed.Digest, ProcessMetrics.PeakMemoryBytes(),
            status.IsFaulted, status.PendingUpdates, counts.DatagramsSent, counts.DatagramsReceived, Environment.ProcessId,
            status.IsRebuilding, StorageStatus.From(node.StorageCounters, ReplayedUpdates));
    }

    private byte[] History(ReadOnlySpan<byte> body)
    {
        if (!ClientMessages.TryReadHistory(body, out var fromSequence, out var maxCount))
        {
            throw new ClientProtocolException("A History request of the wrong length.");
        }

        if (maxCount is < 1 or > ClientMessages.MaxHistoryEntries)
        {
            return Error(ErrorCode.BadRequest, $"A History page holds 1 to {ClientMessages.MaxHistoryEntries} entries.");
        }

        if (executor.History is not { } history)
        {
            return Error(ErrorCode.BadRequest, "This replica does not keep its history (--no-history).");
        }

        // The count is read after the page, so that it covers at least every entry on it.
        var entries = history.Read(fromSequence, maxCount);
        return ClientMessages.HistoryReply(new HistoryPage(history.Count, entries));
    }

    private ValueTask<byte[]> SubmitAsync(ReadOnlySpan<byte> body, CancellationToken cancellationToken)
    {
        if (!ClientMessages.TryReadSubmit(body, out var client, out var timestamp, out var payload))
        {
            throw new ClientProtocolException("A Submit shorter than its fixed fields.");
        }

        if (client <= 0 || timestamp <= 0)
        {
            return ValueTask.FromResult(Error(ErrorCode.BadRequest, "The client id and the timestamp must be positive."));
        }

        // The frame's buffer is reused for the next request, and the node keeps the payload: copy it.
        var update = new ClientUpdate(new ClientId(client), timestamp, payload.ToArray());
        return new ValueTask<byte[]>(AwaitSubmitAsync(update, cancellationToken));
    }

    private async Task<byte[]> AwaitSubmitAsync(ClientUpdate update, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(SubmitTimeout);
        try
        {
            var result = await node.SubmitAsync(update, timeout.Token);
            return ClientMessages.SubmitReply(result.Span);
        }
        catch (PaxosSubmitException exception)
        {
            return ClientMessages.Error((ErrorCode)exception.Reason, exception.LeaderHint?.Value ?? -1, exception.Message);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return Error(ErrorCode.Timeout, $"Not executed within {SubmitTimeout.TotalSeconds} s (it may still execute); submit the same client id and timestamp again.");
        }
    }

    private ValueTask<byte[]> LoadAsync(ReadOnlySpan<byte> body, CancellationToken cancellationToken)
    {
        if (!ClientMessages.TryReadLoad(body, out var request))
        {
            throw new ClientProtocolException("A Load request of the wrong length.");
        }

        if (request.Validate(options.MaxUpdateBytes) is { } problem)
        {
            return ValueTask.FromResult(Error(ErrorCode.BadRequest, problem));
        }

        if (Interlocked.CompareExchange(ref _loadRunning, 1, 0) != 0)
        {
            return ValueTask.FromResult(Error(ErrorCode.Busy, "A load run is already going on here."));
        }

        return new ValueTask<byte[]>(RunLoadAsync(request, cancellationToken));
    }

    private async Task<byte[]> RunLoadAsync(LoadRequest request, CancellationToken cancellationToken)
    {
        try
        {
            SampleLog.LoadStarted(logger, request.Writers, request.PayloadBytes, request.WarmupMillis, request.MeasureMillis);
            var result = await _load.RunAsync(request, cancellationToken);
            SampleLog.LoadFinished(logger, result.Updates, result.Seconds, result.P50Nanos / 1000, result.P99Nanos / 1000, result.Failures);
            return ClientMessages.LoadReply(result);
        }
        finally
        {
            Volatile.Write(ref _loadRunning, 0);
        }
    }

    private byte[] Error(ErrorCode code, string message) => ClientMessages.Error(code, node.Status.Leader.Value, message);
}
