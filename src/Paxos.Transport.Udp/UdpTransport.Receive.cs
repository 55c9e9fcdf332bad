using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Paxos.Messages;

namespace Paxos.Transport.Udp;

/// <summary>The receive side: one loop that reads datagrams, checks them and hands their messages over.</summary>
public sealed partial class UdpTransport
{
    private const int MaxBackoffMilliseconds = 100;

    /// <summary>How long a blocking receive waits (SO_RCVTIMEO) before it looks at the stop token again; disposal
    /// shuts the socket down, which wakes it at once on Linux.</summary>
    private const int ReceiveTimeoutMilliseconds = 250;

    /// <summary>Whether the receive thread waits inside a blocking <c>recvfrom</c> (Linux, where sends pass
    /// MSG_DONTWAIT: see <see cref="LinuxSend"/>) rather than in <c>poll()</c> on a non-blocking socket.</summary>
    private static bool BlockingReceive => OperatingSystem.IsLinux();

    // How long one poll() waits. Disposal shuts the socket down, which wakes the poll at once on Linux; the timeout
    // only bounds the wait where it does not.
    private const int PollTimeoutMicroseconds = 250_000;

    /// <summary>
    /// Reads datagrams on a thread of its own until the transport is disposed. It waits in a blocking <c>recvfrom</c>
    /// (Linux) or in <c>poll()</c> (elsewhere), so the kernel wakes this very thread when a datagram arrives and it
    /// delivers it at once — where an awaited receive
    /// would have the runtime's socket event thread wake a thread-pool thread to do it: one more thread woken per
    /// datagram, which on a small or virtualised machine costs more than the datagram's processing. Nothing escapes
    /// it: a socket error is counted, logged (rate-limited) and followed by the next receive, after a short backoff
    /// if errors repeat.
    /// </summary>
    private void ReceiveLoop()
    {
        var socket = _socket!;
        var buffer = _receiveBuffer!;
        var source = new SocketAddress(socket.AddressFamily);
        var token = _stopping.Token;
        var consecutiveFailures = 0;
        while (!token.IsCancellationRequested)
        {
            int length;
            try
            {
                if (!BlockingReceive && !socket.Poll(PollTimeoutMicroseconds, SelectMode.SelectRead))
                {
                    continue;
                }

                length = socket.ReceiveFrom(buffer, SocketFlags.None, source);
                consecutiveFailures = 0;
                if (token.IsCancellationRequested)
                {
                    break; // Shut down: a blocked receive returns nothing.
                }
            }
            catch (Exception) when (token.IsCancellationRequested)
            {
                break; // Disposed: the socket was shut down and closed under the receive.
            }
            catch (SocketException exception) when (exception.SocketErrorCode is SocketError.WouldBlock or SocketError.TimedOut)
            {
                // Readiness without a datagram (it was dropped, say, for a bad checksum), or a blocking receive's
                // timeout: look at the stop token and wait again.
                continue;
            }
            catch (Exception exception)
            {
                consecutiveFailures++;
                OnReceiveFailed(exception);
                if (consecutiveFailures > 1)
                {
                    token.WaitHandle.WaitOne(Math.Min(1 << Math.Min(consecutiveFailures, 10), MaxBackoffMilliseconds));
                }

                continue;
            }

            try
            {
                ProcessDatagram(buffer.AsSpan(0, length), source);
            }
            catch (Exception exception)
            {
                // The codec never throws and the receiver is guarded; this is a last line of defence.
                OnReceiveFailed(exception);
            }
        }
    }

    /// <summary>Whether the datagram being delivered holds frames after the current one (the receive thread's own).</summary>
    private bool _framesLeftInDatagram;

    /// <inheritdoc/>
    /// <remarks>Asked on the receive thread while it delivers: the rest of the datagram, or a datagram waiting in the
    /// socket (<see cref="Socket.Available"/>, one <c>ioctl</c>). Anywhere else, or when the socket cannot say: true.</remarks>
    public bool HasPendingInput
    {
        get
        {
            if (!ReferenceEquals(Thread.CurrentThread, _receiveThread) || _framesLeftInDatagram)
            {
                return true;
            }

            try
            {
                return _socket is not { } socket || socket.Available > 0;
            }
            catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
            {
                return true;
            }
        }
    }

    /// <summary>Checks one datagram and delivers its frames, in order, up to the first bad one.</summary>
    private void ProcessDatagram(ReadOnlySpan<byte> datagram, SocketAddress source)
    {
        Interlocked.Increment(ref _datagramsReceived);
        _metrics.DatagramReceived();
        var peer = FindPeer(source);
        if (peer < 0)
        {
            DropInput(UdpDropReason.UnknownEndpoint, source);
            return;
        }

        if (datagram.IsEmpty || datagram.Length > _maxDatagramBytes)
        {
            DropInput(datagram.IsEmpty ? UdpDropReason.Truncated : UdpDropReason.TooLarge, source);
            return;
        }

        // Every frame is at least a header and a trailer long, so this loop runs at most datagram.Length / 20 times.
        while (!datagram.IsEmpty)
        {
            var frameLength = NextFrameLength(datagram);
            var status = _codec.TryDecode(datagram[..frameLength], out var message);
            if (status != DecodeStatus.Ok)
            {
                DropInput(ToDropReason(status), source);
                return;
            }

            if (message!.Sender.Value != peer)
            {
                DropInput(UdpDropReason.SenderMismatch, source);
                return;
            }

            _framesLeftInDatagram = frameLength < datagram.Length;
            Deliver(message);
            datagram = datagram[frameLength..];
        }

        _framesLeftInDatagram = false;

        Interlocked.Increment(ref _datagramsDelivered);
    }

    /// <summary>The length of the frame at the start of <paramref name="rest"/>, from its header's body length and
    /// the trailer its flags announce; all of <paramref name="rest"/> when the header is missing or claims more
    /// than is there, so that the codec reports why.</summary>
    private static int NextFrameLength(ReadOnlySpan<byte> rest)
    {
        if (rest.Length < MessageCodec.HeaderBytes)
        {
            return rest.Length;
        }

        // Flags bit 0 announces the HMAC trailer; a frame whose flags disagree with the codec fails in TryDecode.
        var trailer = (rest[3] & 1) != 0 ? MessageCodec.MacTrailerBytes : MessageCodec.ChecksumTrailerBytes;
        var declared = MessageCodec.HeaderBytes + (long)BinaryPrimitives.ReadUInt32LittleEndian(rest[12..]) + trailer;
        return declared <= rest.Length ? (int)declared : rest.Length;
    }

    /// <summary>The replica whose configured endpoint sent the datagram, or −1. A linear scan over at most 63
    /// peers, comparing raw socket addresses: no allocation per datagram.</summary>
    private int FindPeer(SocketAddress source)
    {
        var addresses = _peerAddresses;
        for (var id = 0; id < addresses.Length; id++)
        {
            if (addresses[id] is { } address && address.Equals(source))
            {
                return id;
            }
        }

        return -1;
    }

    private void Deliver(PaxosMessage message)
    {
        Interlocked.Increment(ref _framesDelivered);
        _metrics.FrameReceived();
        try
        {
            _receiver!.Receive(message);
        }
        catch (Exception exception)
        {
            // The receiver's bug, not the peer's: count it, say so loudly (rate-limited), keep receiving.
            Count(UdpDropReason.ReceiverFailed, 1);
            if (_logLimiter.TryAcquire((int)UdpDropReason.ReceiverFailed, out _))
            {
                UdpLog.ReceiverFailed(_logger, _replicaId, message.ToString(), exception);
            }
        }
    }

    private void DropInput(UdpDropReason reason, SocketAddress source)
    {
        Count(reason, 1);
        if (_logLimiter.TryAcquire((int)reason, out var suppressed))
        {
            UdpLog.DroppedInput(_logger, _replicaId, reason, Describe(source), suppressed);
        }
    }

    private void OnReceiveFailed(Exception exception)
    {
        Interlocked.Increment(ref _receiveErrors);
        if (_logLimiter.TryAcquire(RateLimiter.SocketErrorSlot, out _))
        {
            var error = exception is SocketException socketException ? socketException.SocketErrorCode.ToString() : exception.GetType().Name;
            UdpLog.ReceiveFailed(_logger, _replicaId, error, exception);
        }
    }

    /// <summary>The source as text, for a log line (which is rate-limited, so the allocation is rare).</summary>
    private string Describe(SocketAddress source)
    {
        try
        {
            return _bindEndpoint.Create(source).ToString() ?? "?";
        }
        catch (ArgumentException)
        {
            return "?";
        }
    }

    private static UdpDropReason ToDropReason(DecodeStatus status) => status switch
    {
        DecodeStatus.Truncated => UdpDropReason.Truncated,
        DecodeStatus.TooLarge => UdpDropReason.TooLarge,
        DecodeStatus.BadMagic => UdpDropReason.BadMagic,
        DecodeStatus.UnsupportedVersion => UdpDropReason.UnsupportedVersion,
        DecodeStatus.BadFlags => UdpDropReason.BadFlags,
        DecodeStatus.WrongCluster => UdpDropReason.WrongCluster,
        DecodeStatus.UnknownSender => UdpDropReason.UnknownSender,
        DecodeStatus.UnknownType => UdpDropReason.UnknownType,
        DecodeStatus.BadChecksum => UdpDropReason.BadChecksum,
        DecodeStatus.BadMac => UdpDropReason.BadMac,
        DecodeStatus.Unauthenticated => UdpDropReason.Unauthenticated,
        DecodeStatus.WrongConfiguration => UdpDropReason.WrongConfiguration,
        _ => UdpDropReason.Malformed,
    };

    private void Count(UdpDropReason reason, long count)
    {
        Interlocked.Add(ref _drops[(int)reason], count);
        _metrics.Dropped(reason, count);
    }
}
