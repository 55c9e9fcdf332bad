using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Paxos.Sample.Protocol;

/// <summary>Answers one request frame with one answer frame.</summary>
internal interface IClientRequestHandler
{
    /// <summary>The answer to a request. Throws <see cref="ClientProtocolException"/> for a request that is
    /// malformed, which closes the connection.</summary>
    ValueTask<byte[]> HandleAsync(FrameType type, ReadOnlyMemory<byte> body, CancellationToken cancellationToken);
}

/// <summary>
/// The TCP side of a replica process: accepts client connections (at most <see cref="MaxConnections"/> at once)
/// and serves each one request at a time. Everything is bounded — frame sizes, how long a connection may stay
/// idle, how long a frame may take to arrive — and a connection that breaks the protocol is closed; nothing a
/// client sends can stop the replica.
/// </summary>
internal sealed class ClientServer : IAsyncDisposable
{
    public const int MaxConnections = 128;

    private static readonly TimeSpan IdleTimeout = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan FrameTimeout = TimeSpan.FromSeconds(5);

    private readonly IClientRequestHandler _handler;
    private readonly ILogger _logger;
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<Socket, Task> _connections = new();
    private Task? _acceptLoop;
    private long _rejected;

    /// <summary>Binds the listening socket at once, so that a port clash shows before anything else starts.</summary>
    /// <exception cref="SocketException">The endpoint cannot be bound.</exception>
    public ClientServer(IPEndPoint endpoint, IClientRequestHandler handler, ILogger logger)
    {
        _handler = handler;
        _logger = logger;
        _listener = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            _listener.Bind(endpoint);
            _listener.Listen(64);
        }
        catch
        {
            _listener.Dispose();
            throw;
        }

        Endpoint = (IPEndPoint)_listener.LocalEndPoint!;
    }

    public IPEndPoint Endpoint { get; }

    /// <summary>Connections refused because <see cref="MaxConnections"/> were open.</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    public void Start() => _acceptLoop = Task.Run(AcceptLoopAsync);

    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        await _stopping.CancelAsync();
        _listener.Dispose();
        foreach (var socket in _connections.Keys)
        {
            socket.Dispose();
        }

        if (_acceptLoop is not null)
        {
            await _acceptLoop;
        }

        // Each connection's task ends once its socket is closed; bounded in case a handler is slow to notice.
        await Task.WhenAll(_connections.Values).WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(static _ => { }, TaskScheduler.Default);
        _stopping.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        var token = _stopping.Token;
        while (!token.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(token);
            }
            catch (Exception) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException exception)
            {
                SampleLog.AcceptFailed(_logger, exception.SocketErrorCode.ToString());
                await Task.Delay(10, CancellationToken.None);
                continue;
            }

            if (_connections.Count >= MaxConnections)
            {
                Interlocked.Increment(ref _rejected);
                socket.Dispose(); // The client sees the connection close and can try elsewhere.
                continue;
            }

            socket.NoDelay = true;
            var served = new TaskCompletionSource();
            _connections[socket] = served.Task;
            _ = Task.Run(async () =>
            {
                try
                {
                    await ServeAsync(socket, token);
                }
                finally
                {
                    _connections.TryRemove(socket, out _);
                    served.SetResult();
                }
            }, CancellationToken.None);
        }
    }

    private async Task ServeAsync(Socket socket, CancellationToken token)
    {
        var remote = socket.RemoteEndPoint?.ToString() ?? "?";
        await using var stream = new NetworkStream(socket, ownsSocket: true);
        var reader = new FrameReader(stream);
        try
        {
            while (!token.IsCancellationRequested)
            {
                var frame = await reader.ReadAsync(IdleTimeout, FrameTimeout, token);
                if (frame is not { } request)
                {
                    return;
                }

                var answer = await _handler.HandleAsync(request.Type, request.Body, token);
                await stream.WriteAsync(answer, token);
            }
        }
        catch (Exception exception) when (exception is ClientProtocolException or TimeoutException)
        {
            SampleLog.ClientDropped(_logger, remote, exception.Message);
        }
        catch (Exception exception) when (exception is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The client went away, or the server is stopping: nothing to report.
        }
        catch (Exception exception)
        {
            // A bug in a handler: this connection ends, the replica and the other connections carry on.
            SampleLog.HandlerFailed(_logger, remote, exception);
        }
    }
}
