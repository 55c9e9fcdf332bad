using System.Net;
using System.Net.Sockets;

namespace Paxos.Sample.Protocol;

/// <summary>How a submission ended, as far as the client could tell.</summary>
internal enum SubmitOutcomeKind
{
    /// <summary>The update executed; <see cref="SubmitOutcome.Result"/> is the executor's reply.</summary>
    Executed,

    /// <summary>The replica answered with an error (<see cref="SubmitOutcome.Code"/>).</summary>
    Refused,

    /// <summary>No answer: the connection failed or the reply did not come in time. The update may have executed;
    /// re-submitting the same (client id, timestamp) anywhere is safe.</summary>
    Unreachable,
}

/// <summary>The end of one submission.</summary>
internal readonly record struct SubmitOutcome(SubmitOutcomeKind Kind, ReadOnlyMemory<byte> Result, ErrorCode Code, int LeaderHint, string? Message)
{
    public static SubmitOutcome Unreachable(string message) => new(SubmitOutcomeKind.Unreachable, default, 0, -1, message);
}

/// <summary>Submits updates to one replica over its client port.</summary>
internal interface ISubmitter : IAsyncDisposable
{
    /// <summary>Submits one update and waits for its answer; never throws for the network's or the replica's sake.</summary>
    Task<SubmitOutcome> SubmitAsync(long clientId, long timestamp, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken);
}

/// <summary>
/// One TCP connection to a replica's client port, one request at a time. After a failure or a timeout the
/// connection's state is unknown (a late answer may still arrive), so it is closed: make a new client.
/// </summary>
internal sealed class ReplicaClient : ISubmitter
{
    /// <summary>How long a submission may wait for its answer; a little longer than the server's own timeout, so
    /// the server's <see cref="ErrorCode.Timeout"/> normally arrives first.</summary>
    public static readonly TimeSpan SubmitTimeout = TimeSpan.FromSeconds(6);

    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan FrameTimeout = TimeSpan.FromSeconds(5);

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly FrameReader _reader;
    private bool _broken;

    private ReplicaClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _reader = new FrameReader(_stream);
    }

    public IPEndPoint Endpoint => (IPEndPoint)_socket.RemoteEndPoint!;

    /// <summary>Connects, within a few seconds.</summary>
    /// <exception cref="SocketException">Nothing listens there, or the connection failed.</exception>
    /// <exception cref="TimeoutException">The connection did not complete in time.</exception>
    public static async Task<ReplicaClient> ConnectAsync(IPEndPoint endpoint, CancellationToken cancellationToken)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ConnectTimeout);
        try
        {
            await socket.ConnectAsync(endpoint, timeout.Token);
            return new ReplicaClient(socket);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new TimeoutException($"Connecting to {endpoint} took longer than {ConnectTimeout.TotalSeconds} s.");
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public async Task<SubmitOutcome> SubmitAsync(long clientId, long timestamp, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        try
        {
            var (type, body) = await RequestAsync(ClientMessages.Submit(clientId, timestamp, payload.Span), SubmitTimeout, cancellationToken);
            if (type == FrameType.SubmitReply)
            {
                return new SubmitOutcome(SubmitOutcomeKind.Executed, body.ToArray(), 0, -1, null);
            }

            return AsError(type, body.Span) is { } refused ? refused : Broken("an unexpected answer to Submit");
        }
        catch (Exception exception) when (IsConnectionFailure(exception, cancellationToken))
        {
            _broken = true;
            return SubmitOutcome.Unreachable(exception.Message);
        }
    }

    /// <summary>Asks for the replica's status.</summary>
    /// <exception cref="IOException">The connection failed or the answer did not come within <paramref name="timeout"/>.</exception>
    public async Task<ReplicaStatusInfo> StatusAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var (type, body) = await RequestOrThrowAsync(ClientMessages.Status(), timeout, cancellationToken);
        if (type == FrameType.StatusReply && ClientMessages.TryReadStatusReply(body.Span, out var status))
        {
            return status;
        }

        _broken = true;
        throw new IOException("The replica answered Status with something else.");
    }

    /// <summary>Asks for one page of the replica's executed updates: at most <paramref name="maxCount"/> of them, from
    /// sequence <paramref name="fromSequence"/> on.</summary>
    /// <exception cref="IOException">The connection failed, the answer did not come in time, or the replica refused
    /// (it does not keep its history).</exception>
    public async Task<HistoryPage> HistoryAsync(long fromSequence, int maxCount, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var (type, body) = await RequestOrThrowAsync(ClientMessages.History(fromSequence, maxCount), timeout, cancellationToken);
        if (type == FrameType.HistoryReply && ClientMessages.TryReadHistoryReply(body.Span, out var page))
        {
            return page;
        }

        var error = AsError(type, body.Span);
        _broken = true;
        throw new IOException(error is { } e ? $"The replica refused History: {e.Code}: {e.Message}" : "The replica answered History with something else.");
    }

    /// <summary>Every update the replica executed from sequence <paramref name="fromSequence"/> on, page by page, up to
    /// <paramref name="maxEntries"/> (a bound, so that a replica that keeps executing cannot keep this going).</summary>
    /// <exception cref="IOException">As <see cref="HistoryAsync"/>.</exception>
    public async Task<List<ExecutedEntry>> ReadHistoryAsync(long fromSequence, long maxEntries, TimeSpan timeoutPerPage, CancellationToken cancellationToken)
    {
        var entries = new List<ExecutedEntry>();
        while (entries.Count < maxEntries)
        {
            var page = await HistoryAsync(fromSequence, ClientMessages.MaxHistoryEntries, timeoutPerPage, cancellationToken);
            entries.AddRange(page.Entries);
            if (page.Entries.Length < ClientMessages.MaxHistoryEntries)
            {
                break;
            }

            fromSequence = page.Entries[^1].Sequence + 1;
        }

        return entries;
    }

    /// <summary>Asks the replica to run writers inside its own process and waits for the measurement.</summary>
    /// <exception cref="IOException">The connection failed, the answer did not come in time, or the replica refused.</exception>
    public async Task<LoadResult> LoadAsync(LoadRequest request, CancellationToken cancellationToken)
    {
        var timeout = TimeSpan.FromMilliseconds(request.WarmupMillis + request.MeasureMillis) + TimeSpan.FromSeconds(30);
        var (type, body) = await RequestOrThrowAsync(ClientMessages.Load(request), timeout, cancellationToken);
        if (type == FrameType.LoadReply && ClientMessages.TryReadLoadReply(body.Span, out var result))
        {
            return result;
        }

        var error = AsError(type, body.Span);
        _broken = true;
        throw new IOException(error is { } e ? $"The replica refused the load run: {e.Code}: {e.Message}" : "The replica answered Load with something else.");
    }

    public ValueTask DisposeAsync()
    {
        _stream.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task<(FrameType Type, ReadOnlyMemory<byte> Body)> RequestOrThrowAsync(byte[] request, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            return await RequestAsync(request, timeout, cancellationToken);
        }
        catch (Exception exception) when (IsConnectionFailure(exception, cancellationToken))
        {
            _broken = true;
            throw new IOException($"No answer from the replica: {exception.Message}", exception);
        }
    }

    private async Task<(FrameType Type, ReadOnlyMemory<byte> Body)> RequestAsync(byte[] request, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (_broken)
        {
            throw new IOException("The connection failed earlier.");
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await _stream.WriteAsync(request, deadline.Token);
            var frame = await _reader.ReadAsync(timeout, FrameTimeout, deadline.Token);
            return frame ?? throw new IOException("The replica closed the connection.");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"No answer within {timeout.TotalSeconds:0.#} s.");
        }
    }

    private SubmitOutcome Broken(string what)
    {
        _broken = true;
        return SubmitOutcome.Unreachable($"The replica sent {what}.");
    }

    private static SubmitOutcome? AsError(FrameType type, ReadOnlySpan<byte> body) =>
        type == FrameType.Error && ClientMessages.TryReadError(body, out var code, out var hint, out var message)
            ? new SubmitOutcome(SubmitOutcomeKind.Refused, default, code, hint, message)
            : null;

    private static bool IsConnectionFailure(Exception exception, CancellationToken cancellationToken) =>
        !cancellationToken.IsCancellationRequested
        && exception is IOException or SocketException or TimeoutException or ClientProtocolException or ObjectDisposedException;
}
