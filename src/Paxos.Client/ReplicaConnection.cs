using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Paxos.Client.Wire;

namespace Paxos.Client;

/// <summary>An answer frame, its body copied out of the reader's buffer.</summary>
internal readonly record struct Answer(FrameType Type, byte[] Body);

/// <summary>
/// One TCP connection from the client to one replica. Requests are multiplexed by request id: any number may wait
/// at once, and one reader matches answers to them. When anything goes wrong — the stream ends, a frame is malformed
/// or fails authentication — the connection closes and every waiting request fails with an
/// <see cref="IOException"/>; the client then uses another.
/// </summary>
internal sealed class ReplicaConnection : IAsyncDisposable
{
    private readonly WireConnection _wire;
    private readonly ConcurrentDictionary<ulong, TaskCompletionSource<Answer>> _waiting = new();
    private readonly CancellationTokenSource _closing = new();
    private long _nextRequestId;
    private Task _reader = Task.CompletedTask;
    private volatile bool _closed;

    private ReplicaConnection(WireConnection wire, int endpointIndex, Welcome welcome)
    {
        _wire = wire;
        EndpointIndex = endpointIndex;
        Welcome = welcome;
    }

    /// <summary>Which of the client's endpoints this connection reaches.</summary>
    public int EndpointIndex { get; }

    /// <summary>What the replica said when the connection opened: its id and the leader it knew.</summary>
    public Welcome Welcome { get; }

    public bool IsClosed => _closed;

    /// <summary>Connects and shakes hands within <paramref name="timeout"/>.</summary>
    /// <exception cref="IOException">Connecting failed, timed out, or the handshake failed (the inner exception says
    /// why).</exception>
    public static async Task<ReplicaConnection> ConnectAsync(EndPoint endpoint, int endpointIndex, byte[] key, int maxFrameBytes, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        WireConnection? wire = null;
        try
        {
            await socket.ConnectAsync(endpoint, deadline.Token).ConfigureAwait(false);
            wire = new WireConnection(new NetworkStream(socket, ownsSocket: true), maxFrameBytes, key.Length > 0);
            var welcome = await wire.HelloAsync(key, deadline.Token).ConfigureAwait(false);
            var connection = new ReplicaConnection(wire, endpointIndex, welcome);
            connection._reader = Task.Run(connection.ReadLoopAsync, CancellationToken.None);
            return connection;
        }
        catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            if (wire is not null)
            {
                await wire.DisposeAsync().ConfigureAwait(false);
            }

            socket.Dispose();
            var what = exception is OperationCanceledException ? $"no connection within {timeout.TotalMilliseconds:0} ms" : exception.Message;
            throw new IOException($"Cannot connect to {endpoint}: {what}", exception);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Sends one request and waits up to <paramref name="timeout"/> for its answer.</summary>
    /// <exception cref="IOException">The connection failed or closed, or no answer came in time.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<Answer> RequestAsync(Func<ulong, byte[]> build, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (_closed)
        {
            throw new IOException("The connection is closed.");
        }

        var id = (ulong)Interlocked.Increment(ref _nextRequestId);
        var answer = new TaskCompletionSource<Answer>(TaskCreationOptions.RunContinuationsAsynchronously);
        _waiting[id] = answer;
        try
        {
            if (_closed)
            {
                throw new IOException("The connection is closed.");
            }

            await _wire.SendAsync(build(id), cancellationToken).ConfigureAwait(false);
            return await answer.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException exception)
        {
            throw new IOException($"No answer within {timeout.TotalMilliseconds:0} ms.", exception);
        }
        catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
        {
            throw new IOException("The connection failed: " + exception.Message, exception);
        }
        finally
        {
            _waiting.TryRemove(id, out _);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Close();
        await _reader.ConfigureAwait(false);
        _closing.Dispose();
    }

    private void Close()
    {
        if (_closed)
        {
            return;
        }

        _closed = true;
        _closing.Cancel();
        _ = _wire.DisposeAsync().AsTask();
    }

    private async Task ReadLoopAsync()
    {
        Exception? failure = null;
        try
        {
            while (!_closing.IsCancellationRequested)
            {
                var received = await _wire.ReceiveAsync(_closing.Token).ConfigureAwait(false);
                if (received is not { } frame)
                {
                    failure = new IOException("The replica closed the connection.");
                    break;
                }

                if (WireFormat.IsRequest(frame.Type) || frame.Type == FrameType.Welcome)
                {
                    failure = new IOException($"The replica sent a {frame.Type} frame, which only clients send or which comes once.");
                    break;
                }

                // An answer nobody waits for any more (its request timed out) is dropped.
                if (_waiting.TryRemove(frame.RequestId, out var waiting))
                {
                    waiting.TrySetResult(new Answer(frame.Type, frame.Body.ToArray()));
                }
            }
        }
        catch (Exception exception)
        {
            failure = exception is IOException ? exception : new IOException("The connection failed: " + exception.Message, exception);
        }

        Close();
        failure ??= new IOException("The connection is closed.");
        foreach (var waiting in _waiting.Values)
        {
            waiting.TrySetException(failure);
        }
    }
}
