using System.Buffers;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Paxos.Messages;

namespace Paxos.Transport.Udp;

/// <summary>
/// Carries a replica's messages over UDP: one socket, one receive loop, and per peer one
/// pending datagram into which <see cref="Send"/> encodes frames back to back until <see cref="Flush"/> (or a
/// full datagram) sends it — so one output batch to one peer costs as few datagrams as fit.
/// </summary>
/// <remarks>
/// <para>Every received datagram must come from the endpoint <see cref="UdpTransportOptions.Peers"/> gives for the
/// replica each of its frames names, and every frame must pass the codec (<see cref="MessageCodec.TryDecode"/>);
/// anything else is dropped and counted by <see cref="UdpDropReason"/>, and the first bad frame ends its datagram.
/// Nothing a peer sends can throw out of the receive loop, which ends only when the transport is disposed.</para>
/// <para><see cref="Send"/> and <see cref="Flush"/> never block: the socket is non-blocking, and a datagram it
/// refuses is dropped and counted (the protocol retransmits). They may be called from any thread.</para>
/// <para>Metrics go to the meter <c>Paxos.Transport.Udp</c>; plain counters are also readable here
/// (<see cref="Counters"/>, <see cref="DroppedCount"/>).</para>
/// </remarks>
public sealed partial class UdpTransport : ITransport
{
    /// <summary>The name of the <see cref="Meter"/> the transport's instruments belong to.</summary>
    public const string MeterName = UdpTransportMetrics.MeterName;

    // Large enough for any UDP datagram, so an oversized one is seen whole and counted rather than truncated.
    private const int ReceiveBufferLength = 64 * 1024;

    private static readonly TimeSpan LogInterval = TimeSpan.FromSeconds(5);

    private readonly int _replicaId;
    private readonly uint _clusterId;
    private readonly int _maxDatagramBytes;
    private readonly int _receiveBufferBytes;
    private readonly int _sendBufferBytes;
    private readonly IPEndPoint _bindEndpoint;
    private readonly MessageCodec _codec;
    private readonly SocketAddress?[] _peerAddresses;
    private readonly PeerOutbox?[] _outboxes;
    private readonly int _peerCount;
    private readonly ILogger _logger;
    private readonly UdpTransportMetrics _metrics;
    private readonly RateLimiter _logLimiter = new(LogInterval);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _lifecycle = new();
    private readonly Lock _sendLock = new();
    private readonly long[] _drops = new long[Enum.GetValues<UdpDropReason>().Length + 1];

    private Socket? _socket;
    private ITransportReceiver? _receiver;
    private byte[]? _receiveBuffer;

    /// <summary>The thread that runs <see cref="ReceiveLoop"/> (<see cref="HasPendingInput"/> answers it alone).</summary>
    private Thread? _receiveThread;
    private Task? _receiveLoop;
    private bool _running;
    private bool _disposed;

    private long _datagramsSent;
    private long _framesSent;
    private long _datagramsReceived;
    private long _datagramsDelivered;
    private long _framesDelivered;
    private long _receiveErrors;

    /// <summary>Builds a transport; nothing is bound until <see cref="StartAsync"/>.</summary>
    /// <param name="options">The options; validated and read once, here. Peer host names are resolved here.</param>
    /// <param name="loggerFactory">Where logs go; none when null.</param>
    /// <param name="meterFactory">Creates the meter; a meter of the transport's own when null.</param>
    /// <exception cref="OptionsValidationException">An option is invalid, or a peer's address family cannot be
    /// reached from the bind endpoint's.</exception>
    /// <exception cref="FormatException">A peer's host name does not resolve.</exception>
    public UdpTransport(UdpTransportOptions options, ILoggerFactory? loggerFactory = null, IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        UdpTransportOptionsValidator.ThrowIfInvalid(options);

        _replicaId = options.ReplicaId;
        _clusterId = options.ClusterId;
        _maxDatagramBytes = options.MaxDatagramBytes;
        _receiveBufferBytes = options.ReceiveBufferBytes;
        _sendBufferBytes = options.SendBufferBytes;
        _bindEndpoint = UdpTransportOptions.ParseEndpoint(options.BindEndpoint);
        ClusterSize = options.ClusterSize;
        MaxMessageBytes = options.MaxMessageBytes;
        _codec = new MessageCodec(new MessageCodecOptions
        {
            ClusterId = options.ClusterId,
            ClusterSize = ClusterSize,
            ClusterKey = UdpTransportOptionsValidator.DecodeKey(options.ClusterKey),
            MaxMessageBytes = MaxMessageBytes,
        });

        _peerAddresses = new SocketAddress?[ClusterSize];
        _outboxes = new PeerOutbox?[ClusterSize];
        var resolved = new IPEndPoint?[ClusterSize];
        for (var id = 0; id < ClusterSize; id++)
        {
            if (id == _replicaId)
            {
                continue;
            }

            var endpoint = ForSocketFamily(UdpTransportOptions.ParseEndpoint(options.Peers[id]), id);
            ThrowIfNotAnotherReplica(endpoint, id, resolved);
            resolved[id] = endpoint;
            _peerAddresses[id] = endpoint.Serialize();
            _outboxes[id] = new PeerOutbox(id, endpoint.Serialize(), _maxDatagramBytes, options.MaxPendingDatagramsPerPeer);
            _peerCount++;
        }

        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<UdpTransport>();
        _metrics = new UdpTransportMetrics(_replicaId, meterFactory);
    }

    /// <summary>This replica's id.</summary>
    public ReplicaId ReplicaId => new(_replicaId);

    /// <summary>The number of replicas, as the options describe it (<see cref="UdpTransportOptions.ClusterSize"/>).</summary>
    public int ClusterSize { get; }

    /// <summary>The largest message body this transport sends or accepts (<see cref="UdpTransportOptions.MaxMessageBytes"/>).</summary>
    public int MaxMessageBytes { get; }

    /// <inheritdoc />
    /// <remarks>The options' replica id, cluster size (from <see cref="UdpTransportOptions.Peers"/>), cluster id and
    /// <see cref="MaxMessageBytes"/>: a <see cref="PaxosNode"/> whose options disagree with any of them refuses this
    /// transport, however the two were built.</remarks>
    public TransportIdentity Identity => new(ReplicaId, ClusterSize, _clusterId, MaxMessageBytes);

    /// <summary>The endpoint the socket is bound to, once started (with the port the system chose when the
    /// bind endpoint's port is 0); null before.</summary>
    public IPEndPoint? LocalEndpoint { get; private set; }

    /// <summary>Whether the receive loop is running: started and not disposed.</summary>
    public bool IsReceiving => _receiveLoop is { IsCompleted: false };

    /// <summary>A snapshot of the transport's counters.</summary>
    public UdpTransportCounters Counters => new(
        Interlocked.Read(ref _datagramsSent),
        Interlocked.Read(ref _framesSent),
        Interlocked.Read(ref _datagramsReceived),
        Interlocked.Read(ref _datagramsDelivered),
        Interlocked.Read(ref _framesDelivered),
        SumDrops(receiveSide: true),
        SumDrops(receiveSide: false),
        Interlocked.Read(ref _receiveErrors));

    /// <summary>How many frames or datagrams were dropped for <paramref name="reason"/> since the transport was built.</summary>
    /// <param name="reason">The reason.</param>
    /// <returns>The count.</returns>
    public long DroppedCount(UdpDropReason reason)
    {
        var slot = (int)reason;
        return slot > 0 && slot < _drops.Length ? Interlocked.Read(ref _drops[slot]) : 0;
    }

    /// <summary>
    /// Checks that a replica's options and its transport's describe the same replica and cluster, and that every
    /// message the replica builds fits one datagram (<see cref="PaxosOptions.MaxMessageBytes"/> ≤
    /// <see cref="UdpTransportOptions.MaxMessageBytes"/>). A <see cref="PaxosNode"/> makes the same checks itself, on
    /// whatever transport it is given (<see cref="Identity"/>); this lets a host check the options before it builds
    /// anything.
    /// </summary>
    /// <param name="paxos">The replica's options.</param>
    /// <param name="udp">The transport's options.</param>
    /// <exception cref="OptionsValidationException">They do not match; the message names both options.</exception>
    public static void CheckCompatible(PaxosOptions paxos, UdpTransportOptions udp)
    {
        ArgumentNullException.ThrowIfNull(paxos);
        ArgumentNullException.ThrowIfNull(udp);
        var failures = new List<string>();
        if (paxos.MaxMessageBytes > udp.MaxMessageBytes)
        {
            failures.Add(Say($"PaxosOptions.MaxMessageBytes is {paxos.MaxMessageBytes}; it must be at most UdpTransportOptions.MaxMessageBytes, {udp.MaxMessageBytes} (MaxDatagramBytes {udp.MaxDatagramBytes} less {MessageCodec.HeaderBytes} header and {udp.TrailerBytes} trailer bytes)."));
        }

        if (paxos.ClusterSize != udp.ClusterSize)
        {
            failures.Add(Say($"PaxosOptions.ClusterSize is {paxos.ClusterSize}, but UdpTransportOptions.Peers describes a cluster of {udp.ClusterSize}."));
        }

        if (paxos.ReplicaId != udp.ReplicaId)
        {
            failures.Add(Say($"PaxosOptions.ReplicaId is {paxos.ReplicaId}, but UdpTransportOptions.ReplicaId is {udp.ReplicaId}."));
        }

        if (paxos.ClusterId != udp.ClusterId)
        {
            failures.Add(Say($"PaxosOptions.ClusterId is {paxos.ClusterId}, but UdpTransportOptions.ClusterId is {udp.ClusterId}; set both to the cluster's id."));
        }

        if (failures.Count > 0)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(UdpTransportOptions), failures);
        }
    }

    /// <summary>Binds the socket and starts the receive loop; every message received from then on goes to
    /// <paramref name="receiver"/>.</summary>
    /// <param name="receiver">Takes received messages; called on the receive loop, one at a time.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>A task that completes once the socket is bound.</returns>
    /// <exception cref="InvalidOperationException">The transport was started before.</exception>
    /// <exception cref="SocketException">The bind endpoint cannot be bound (for example, it is in use).</exception>
    public ValueTask StartAsync(ITransportReceiver receiver, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(receiver);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lifecycle)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_socket is not null)
            {
                throw new InvalidOperationException("A UDP transport starts once.");
            }

            var socket = CreateSocket();
            _socket = socket;
            _receiver = receiver;
            LocalEndpoint = (IPEndPoint?)socket.LocalEndPoint;
            _receiveBuffer = ArrayPool<byte>.Shared.Rent(ReceiveBufferLength);
            lock (_sendLock)
            {
                _running = true;
            }

            var finished = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _receiveLoop = finished.Task;
            var thread = new Thread(() =>
            {
                try
                {
                    ReceiveLoop();
                }
                finally
                {
                    finished.TrySetResult();
                }
            })
            {
                IsBackground = true,
                Name = string.Create(CultureInfo.InvariantCulture, $"Paxos UDP receive {_replicaId}"),
            };
            _receiveThread = thread;
            thread.Start();
        }

        UdpLog.Started(_logger, _replicaId, LocalEndpoint, _peerCount, _codec.IsAuthenticated ? "HMAC-SHA256" : "CRC-32C", _maxDatagramBytes);
        return ValueTask.CompletedTask;
    }

    /// <summary>Stops the receive loop, closes the socket and returns the buffers (idempotent). Frames still
    /// pending are not sent.</summary>
    /// <returns>A task that completes once the receive loop has ended.</returns>
    public async ValueTask DisposeAsync()
    {
        Socket? socket;
        Task? loop;
        lock (_lifecycle)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            socket = _socket;
            loop = _receiveLoop;
        }

        lock (_sendLock)
        {
            _running = false;
            foreach (var outbox in _outboxes)
            {
                outbox?.ReturnBuffers();
            }
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        ShutDown(socket);
        socket?.Dispose();
        if (loop is not null)
        {
            await loop.ConfigureAwait(false); // The loop catches everything, so this never throws.
        }

        if (_receiveBuffer is { } buffer)
        {
            _receiveBuffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }

        _metrics.Dispose();
        _stopping.Dispose();
        if (socket is not null)
        {
            UdpLog.Stopped(_logger, _replicaId);
        }
    }

    /// <summary>Shuts the socket down before it is closed: on Linux that wakes the receive thread's recvfrom or poll() at once
    /// (closing alone does not), even though an unconnected UDP socket reports that it is not connected.</summary>
    private static void ShutDown(Socket? socket)
    {
        try
        {
            socket?.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // NotConnected, as expected for UDP; the poll was woken all the same.
        }
        catch (ObjectDisposedException)
        {
            // Already closed.
        }
    }

    private Socket CreateSocket()
    {
        var socket = new Socket(_bindEndpoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (_bindEndpoint.AddressFamily == AddressFamily.InterNetworkV6)
            {
                socket.DualMode = true; // Reach IPv4 peers too; their addresses were mapped to IPv6 to match.
            }

            if (OperatingSystem.IsWindows())
            {
                // SIO_UDP_CONNRESET off: otherwise an ICMP port unreachable fails the next receive on Windows.
                const int SioUdpConnReset = -1744830452;
                socket.IOControl(SioUdpConnReset, [0, 0, 0, 0], null);
            }

            TrySetBuffer(socket, SocketOptionName.ReceiveBuffer, _receiveBufferBytes);
            TrySetBuffer(socket, SocketOptionName.SendBuffer, _sendBufferBytes);
            socket.Bind(_bindEndpoint);

            // Sends happen on the replica's loop and must never wait for buffer space. On Linux each send says so
            // itself (MSG_DONTWAIT), so the socket may block for the receive thread's recvfrom; elsewhere the
            // socket is non-blocking and the receive thread waits in poll().
            if (BlockingReceive)
            {
                socket.Blocking = true;
                socket.ReceiveTimeout = ReceiveTimeoutMilliseconds;
            }
            else
            {
                socket.Blocking = false;
            }

            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private void TrySetBuffer(Socket socket, SocketOptionName option, int bytes)
    {
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, option, bytes);
        }
        catch (SocketException exception)
        {
            UdpLog.SocketOptionRefused(_logger, _replicaId, option.ToString(), bytes, exception);
        }
    }

    /// <summary>Refuses a peer endpoint that, once resolved, is this transport's own bind endpoint or another peer's:
    /// the validator compares the text only (it resolves nothing), so <c>localhost:7001</c> and <c>127.0.0.1:7001</c>
    /// are caught here. A datagram's source must name exactly one replica, and never this one.</summary>
    private void ThrowIfNotAnotherReplica(IPEndPoint endpoint, int id, IPEndPoint?[] earlier)
    {
        if (UdpTransportOptionsValidator.ReachesBind(endpoint, _bindEndpoint))
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(UdpTransportOptions), [
                Say($"Peers[{id}] resolves to {endpoint}, which is this replica's own BindEndpoint ({_bindEndpoint}); replica {_replicaId} would talk to itself as replica {id}."),
            ]);
        }

        var other = Array.FindIndex(earlier, e => e is not null && e.Equals(endpoint));
        if (other >= 0)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(UdpTransportOptions), [
                Say($"Peers[{id}] and Peers[{other}] both resolve to {endpoint}; a datagram's source must name one replica."),
            ]);
        }
    }

    /// <summary>Maps a peer's endpoint to the socket's address family, so that source addresses compare equal.</summary>
    private IPEndPoint ForSocketFamily(IPEndPoint peer, int id)
    {
        if (peer.AddressFamily == _bindEndpoint.AddressFamily)
        {
            return peer;
        }

        if (_bindEndpoint.AddressFamily == AddressFamily.InterNetworkV6 && peer.AddressFamily == AddressFamily.InterNetwork)
        {
            return new IPEndPoint(peer.Address.MapToIPv6(), peer.Port);
        }

        throw new OptionsValidationException(Options.DefaultName, typeof(UdpTransportOptions), [
            Say($"Peers[{id}] is the IPv6 endpoint {peer}, which an IPv4 BindEndpoint ({_bindEndpoint}) cannot reach; bind to an IPv6 address such as [::]:port."),
        ]);
    }

    private long SumDrops(bool receiveSide)
    {
        long sum = 0;
        for (var slot = 1; slot < _drops.Length; slot++)
        {
            if (IsReceiveSide((UdpDropReason)slot) == receiveSide)
            {
                sum += Interlocked.Read(ref _drops[slot]);
            }
        }

        return sum;
    }

    private static bool IsReceiveSide(UdpDropReason reason) =>
        reason is < UdpDropReason.UnknownDestination or UdpDropReason.WrongConfiguration;

    private static string Say(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
