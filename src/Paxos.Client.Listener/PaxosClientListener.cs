using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Paxos.Client.Wire;

namespace Paxos.Client.Listener;

/// <summary>
/// The replica side of <c>Paxos.Client</c>: a TCP listener that a host runs beside its <see cref="PaxosNode"/>. It
/// answers session registration, submissions, linearizable reads and status requests from clients in other
/// processes, over length-prefixed frames (authenticated when <see cref="PaxosClientListenerOptions.ClusterKey"/> is
/// set).
/// </summary>
/// <remarks>
/// <para>Everything is bounded: connections (<see cref="PaxosClientListenerOptions.MaxConnections"/>), frame sizes,
/// requests in flight per connection (the listener stops reading a connection that has that many, so TCP pushes back),
/// idle time and each request's wait. A connection that sends a malformed frame or one that fails authentication is
/// closed and counted (<see cref="Counters"/>); nothing a client sends can throw out of the listener or stop the
/// replica.</para>
/// <para>An <see cref="IHostedService"/>: register it after the node so that the host starts it after the node and
/// stops it before.</para>
/// </remarks>
public sealed partial class PaxosClientListener : IHostedService, IAsyncDisposable
{
    private static readonly TimeSpan StopWait = TimeSpan.FromSeconds(5);

    private readonly IClientReplica _replica;
    private readonly PaxosClientListenerOptions _options;
    private readonly IPEndPoint _endpoint;
    private readonly byte[] _key;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<long, Connection> _connections = new();
    private readonly Lock _lifecycle = new();
    private Socket? _socket;
    private Task _acceptLoop = Task.CompletedTask;
    private bool _started;
    private bool _stopped;
    private long _nextConnectionId;
    private long _accepted;
    private long _refused;
    private long _malformed;
    private long _unauthenticated;
    private long _idle;
    private long _requests;
    private long _errors;

    /// <summary>Creates a listener for <paramref name="node"/>; nothing listens until <see cref="StartAsync"/>.</summary>
    /// <param name="node">The replica whose clients this serves.</param>
    /// <param name="options">Where to listen and the bounds; validated here.</param>
    /// <param name="loggerFactory">Where logs go; none when null.</param>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException">An option is out of range.</exception>
    public PaxosClientListener(PaxosNode node, PaxosClientListenerOptions options, ILoggerFactory? loggerFactory = null)
        : this(new NodeClientReplica(node ?? throw new ArgumentNullException(nameof(node))), options, loggerFactory)
    {
    }

    internal PaxosClientListener(IClientReplica replica, PaxosClientListenerOptions options, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        PaxosClientListenerOptionsValidator.ThrowIfInvalid(options);
        _replica = replica;
        _options = options;
        _endpoint = options.ParseEndpoint();
        _key = options.DecodeKey();
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<PaxosClientListener>();
    }

    /// <summary>Where the listener listens, once started (with the port chosen when the options said 0); null before.</summary>
    public IPEndPoint? LocalEndpoint { get; private set; }

    /// <summary>What the listener did so far.</summary>
    public PaxosClientListenerCounters Counters => new(
        Interlocked.Read(ref _accepted),
        Interlocked.Read(ref _refused),
        _connections.Count,
        Interlocked.Read(ref _malformed),
        Interlocked.Read(ref _unauthenticated),
        Interlocked.Read(ref _idle),
        Interlocked.Read(ref _requests),
        Interlocked.Read(ref _errors));

    /// <summary>Binds the endpoint and starts accepting connections.</summary>
    /// <param name="cancellationToken">Unused: binding does not wait.</param>
    /// <exception cref="SocketException">The endpoint cannot be bound (for example, the port is taken).</exception>
    /// <exception cref="InvalidOperationException">The listener was started before.</exception>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lock (_lifecycle)
        {
            if (_started || _stopped)
            {
                throw new InvalidOperationException("A client listener starts once.");
            }

            _started = true;
            var socket = new Socket(_endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Bind(_endpoint);
                socket.Listen(512);
            }
            catch
            {
                socket.Dispose();
                throw;
            }

            _socket = socket;
            LocalEndpoint = (IPEndPoint)socket.LocalEndPoint!;
            _acceptLoop = Task.Run(AcceptLoopAsync, CancellationToken.None);
        }

        ListenerLog.Started(_logger, _replica.Status.Id.Value, LocalEndpoint, _key.Length > 0 ? "HMAC-SHA256" : "unauthenticated", _options.MaxConnections);
        return Task.CompletedTask;
    }

    /// <summary>Stops accepting, closes every connection (requests in flight are abandoned; their updates may still
    /// execute, and clients retry them elsewhere) and waits, a few seconds at most, for the connections to end.
    /// Idempotent.</summary>
    /// <param name="cancellationToken">Stops waiting for the connections to end.</param>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        Socket? socket;
        lock (_lifecycle)
        {
            if (_stopped)
            {
                return;
            }

            _stopped = true;
            socket = _socket;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        socket?.Dispose();
        foreach (var connection in _connections.Values)
        {
            await connection.Wire.DisposeAsync().ConfigureAwait(false);
        }

        var served = _connections.Values.Select(static c => c.Served).Append(_acceptLoop);
        try
        {
            await Task.WhenAll(served).WaitAsync(StopWait, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // A connection slow to notice its closed socket; it ends on its own.
        }

        if (socket is not null)
        {
            ListenerLog.Stopped(_logger, _replica.Status.Id.Value);
        }
    }

    /// <summary>Stops the listener, as <see cref="StopAsync"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        var token = _stopping.Token;
        while (!token.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _socket!.AcceptAsync(token).ConfigureAwait(false);
            }
            catch (Exception) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException exception)
            {
                ListenerLog.AcceptFailed(_logger, _replica.Status.Id.Value, exception.SocketErrorCode.ToString());
                await Task.Delay(10, CancellationToken.None).ConfigureAwait(false);
                continue;
            }

            if (_connections.Count >= _options.MaxConnections)
            {
                Interlocked.Increment(ref _refused);
                ListenerLog.Refused(_logger, _replica.Status.Id.Value, client.RemoteEndPoint?.ToString() ?? "?", _connections.Count);
                client.Dispose(); // The client sees the connection close and tries another replica.
                continue;
            }

            Interlocked.Increment(ref _accepted);
            client.NoDelay = true;
            var id = Interlocked.Increment(ref _nextConnectionId);
            var connection = new Connection(this, id, client);
            _connections[id] = connection;
            connection.Served = Task.Run(connection.ServeAsync, CancellationToken.None);
        }
    }

    private void Forget(long id) => _connections.TryRemove(id, out _);
}
