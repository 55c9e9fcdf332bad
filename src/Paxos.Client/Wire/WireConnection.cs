using System.Security.Cryptography;

namespace Paxos.Client.Wire;

/// <summary>A frame failed authentication: its tag is wrong (a wrong key, a replay, a changed byte). The connection is
/// closed.</summary>
internal sealed class WireAuthenticationException : Exception
{
    public WireAuthenticationException()
    {
    }

    public WireAuthenticationException(string message)
        : base(message)
    {
    }

    public WireAuthenticationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>One received frame; its body is valid until the next receive on the same connection.</summary>
internal readonly record struct ReceivedFrame(FrameType Type, ulong RequestId, ReadOnlyMemory<byte> Body);

/// <summary>
/// One end of a connection: frames out (sealed in order under a write lock), frames in (checked in order on the one
/// reader), and the handshake that sets up both directions' authenticators (<see cref="FrameAuthenticator"/>). Both
/// the client and the replica's listener use it.
/// </summary>
internal sealed class WireConnection : IAsyncDisposable
{
    private readonly Stream _stream;
    private readonly FrameReader _reader;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private FrameAuthenticator? _send;
    private FrameAuthenticator? _receive;
    private int _disposed;

    public WireConnection(Stream stream, int maxFrameBytes, bool authenticated)
    {
        _stream = stream;
        IsAuthenticated = authenticated;
        _reader = new FrameReader(stream, maxFrameBytes, authenticated);
    }

    public bool IsAuthenticated { get; }

    /// <summary>Whether a send was interrupted part-way; the stream is then out of step and must be closed.</summary>
    public bool IsBroken { get; private set; }

    /// <summary>The client's side of the handshake: sends Hello, reads and checks Welcome.</summary>
    /// <exception cref="WireProtocolException">The replica answered with something else, or another version.</exception>
    /// <exception cref="WireAuthenticationException">The Welcome's tag is wrong: the replica has another key.</exception>
    public async Task<Welcome> HelloAsync(ReadOnlyMemory<byte> key, CancellationToken cancellationToken)
    {
        var clientNonce = RandomNumberGenerator.GetBytes(WireFormat.NonceBytes);
        var hello = WireMessages.Hello(clientNonce, IsAuthenticated);
        if (IsAuthenticated)
        {
            using var first = new FrameAuthenticator(key.Span, FrameDirection.ClientToReplica, clientNonce, new byte[WireFormat.NonceBytes], 0);
            first.Seal(hello);
        }

        await SendAsync(hello, cancellationToken).ConfigureAwait(false);
        var content = await _reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ?? throw new WireProtocolException("The replica closed the connection during the handshake.");
        if (!WireFormat.TryParseHeader(Untagged(content), out var type, out _, out var body)
            || type != FrameType.Welcome
            || !WireMessages.TryReadWelcome(body.Span, out var welcome))
        {
            throw new WireProtocolException("The replica did not answer Hello with Welcome.");
        }

        if (welcome.Version != WireFormat.Version)
        {
            throw new WireProtocolException($"The replica speaks version {welcome.Version} of the client wire; this client speaks {WireFormat.Version}.");
        }

        if (IsAuthenticated)
        {
            _receive = new FrameAuthenticator(key.Span, FrameDirection.ReplicaToClient, clientNonce, welcome.ReplicaNonce, 0);
            if (!_receive.Check(content.Span))
            {
                throw new WireAuthenticationException("The replica's Welcome failed authentication: it has another cluster key.");
            }

            _send = new FrameAuthenticator(key.Span, FrameDirection.ClientToReplica, clientNonce, welcome.ReplicaNonce, 1);
        }

        return welcome;
    }

    /// <summary>The replica's side of the handshake: reads and checks Hello, answers Welcome.</summary>
    /// <returns>False when the client closed the connection before its Hello.</returns>
    /// <exception cref="WireProtocolException">The first frame is not a valid Hello, or of another version.</exception>
    /// <exception cref="WireAuthenticationException">The Hello's tag is wrong.</exception>
    public async Task<bool> AcceptHelloAsync(ReadOnlyMemory<byte> key, int replicaId, int leaderHint, CancellationToken cancellationToken)
    {
        var content = await _reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        if (content is not { } hello)
        {
            return false;
        }

        if (!IsHello(Untagged(hello), out var version, out var clientNonce))
        {
            // A Hello sealed when this side expects none, or the other way round, is a key mismatch, not garbage.
            throw IsAuthenticated && IsHello(hello, out _, out _) ? new WireAuthenticationException("The client's Hello carries no tag: the client has no cluster key.")
                : !IsAuthenticated && hello.Length > WireFormat.TagBytes && IsHello(hello[..^WireFormat.TagBytes], out _, out _) ? new WireAuthenticationException("The client's Hello carries a tag, but this side has no cluster key.")
                : new WireProtocolException("The first frame of a connection must be Hello.");
        }

        var replicaNonce = RandomNumberGenerator.GetBytes(WireFormat.NonceBytes);
        if (IsAuthenticated)
        {
            using var first = new FrameAuthenticator(key.Span, FrameDirection.ClientToReplica, clientNonce, new byte[WireFormat.NonceBytes], 0);
            if (!first.Check(hello.Span))
            {
                throw new WireAuthenticationException("The client's Hello failed authentication.");
            }
        }

        if (version != WireFormat.Version)
        {
            throw new WireProtocolException($"The client speaks version {version} of the client wire; this replica speaks {WireFormat.Version}.");
        }

        if (IsAuthenticated)
        {
            _receive = new FrameAuthenticator(key.Span, FrameDirection.ClientToReplica, clientNonce, replicaNonce, 1);
            _send = new FrameAuthenticator(key.Span, FrameDirection.ReplicaToClient, clientNonce, replicaNonce, 0);
        }

        await SendAsync(WireMessages.Welcome(replicaNonce, replicaId, leaderHint, IsAuthenticated), cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>Seals (when authenticated) and writes one whole frame; frames go out in the order they are sealed.</summary>
    public async ValueTask SendAsync(byte[] frame, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            if (IsBroken)
            {
                throw new IOException("An earlier send on this connection was interrupted.");
            }

            _send?.Seal(frame);
            try
            {
                await _stream.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                IsBroken = true; // Part of the frame may have gone out; and the counter moved on.
                throw;
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>The next frame, checked; null when the peer closed the connection between frames. Call from one
    /// reader at a time.</summary>
    /// <exception cref="WireProtocolException">A bad length, an unknown type, or the stream ended inside a frame.</exception>
    /// <exception cref="WireAuthenticationException">The frame's tag is wrong.</exception>
    public async ValueTask<ReceivedFrame?> ReceiveAsync(CancellationToken cancellationToken)
    {
        var read = await _reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        if (read is not { } content)
        {
            return null;
        }

        if (_receive is not null && !_receive.Check(content.Span))
        {
            throw new WireAuthenticationException("A frame failed authentication.");
        }

        if (!WireFormat.TryParseHeader(Untagged(content), out var type, out var requestId, out var body))
        {
            throw new WireProtocolException($"A frame of unknown type 0x{content.Span[0]:x2}.");
        }

        return new ReceivedFrame(type, requestId, body);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stream.DisposeAsync().ConfigureAwait(false);

        // The authenticators and the write lock are left to the collector: a send or a receive may still be running
        // on them, and it fails on the closed stream.
    }

    private static bool IsHello(ReadOnlyMemory<byte> content, out byte version, out byte[] clientNonce)
    {
        version = 0;
        clientNonce = [];
        return WireFormat.TryParseHeader(content, out var type, out _, out var body)
            && type == FrameType.Hello
            && WireMessages.TryReadHello(body.Span, out version, out clientNonce);
    }

    private ReadOnlyMemory<byte> Untagged(ReadOnlyMemory<byte> content) =>
        IsAuthenticated ? content[..^WireFormat.TagBytes] : content;
}
