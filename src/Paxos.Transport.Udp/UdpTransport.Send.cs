using System.Net;
using System.Net.Sockets;
using Paxos.Messages;

namespace Paxos.Transport.Udp;

/// <summary>The send side: frames are encoded straight into per-peer pending datagrams and sent on
/// <see cref="Flush"/>, or earlier when a peer's pending datagrams are full.</summary>
public sealed partial class UdpTransport
{
    /// <summary>Encodes <paramref name="message"/> into the pending datagram for <paramref name="destination"/>;
    /// it leaves on the next <see cref="Flush"/> (or sooner, when that peer's pending datagrams are full). Never
    /// blocks and never throws for the network's sake: an unknown destination, a message the codec refuses or a
    /// datagram the socket refuses is dropped and counted.</summary>
    /// <param name="destination">Another replica of the cluster.</param>
    /// <param name="message">The message; its sender must be this replica.</param>
    public void Send(ReplicaId destination, PaxosMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var peer = destination.Value;
        var outbox = (uint)peer < (uint)_outboxes.Length ? _outboxes[peer] : null;
        if (outbox is null)
        {
            DropOutput(UdpDropReason.UnknownDestination, peer, 1);
            return;
        }

        int frameLength;
        try
        {
            frameLength = _codec.GetEncodedLength(message);
        }
        catch (ArgumentException exception)
        {
            EncodeFailed(message, peer, exception.Message);
            return;
        }

        if (frameLength > _codec.MaxFrameBytes)
        {
            EncodeFailed(message, peer, $"a frame of {frameLength} bytes; at most {_codec.MaxFrameBytes} fit a datagram");
            return;
        }

        lock (_sendLock)
        {
            if (!_running)
            {
                DropOutput(UdpDropReason.NotRunning, peer, 1);
                return;
            }

            var span = outbox.Reserve(frameLength, this);
            try
            {
                outbox.Commit(_codec.Encode(message, span));
            }
            catch (ArgumentException exception)
            {
                // GetEncodedLength accepted it, so this does not happen; if it does, nothing was committed.
                EncodeFailed(message, peer, exception.Message);
            }
        }
    }

    /// <summary>Sends every pending datagram, one per peer for a batch that fits. Never blocks: a datagram the
    /// socket refuses (its buffer is full) is dropped and counted.</summary>
    public void Flush()
    {
        lock (_sendLock)
        {
            if (!_running)
            {
                return;
            }

            foreach (var outbox in _outboxes)
            {
                outbox?.SendAll(this);
            }
        }
    }

    /// <summary>Sends one datagram of <paramref name="frames"/> frames to <paramref name="peer"/>; called under
    /// the send lock by a <see cref="PeerOutbox"/>.</summary>
    internal void SendDatagram(int peer, SocketAddress address, ReadOnlySpan<byte> datagram, int frames)
    {
        try
        {
            if (BlockingReceive)
            {
                if (!LinuxSend.TrySend(_socket!.SafeHandle, datagram, address, out _))
                {
                    // EAGAIN (the buffer is full), ENOBUFS, ENETUNREACH, ...: as below.
                    DropOutput(UdpDropReason.SendFailed, peer, frames);
                    return;
                }
            }
            else
            {
                _socket!.SendTo(datagram, SocketFlags.None, address);
            }

            Interlocked.Increment(ref _datagramsSent);
            Interlocked.Add(ref _framesSent, frames);
            _metrics.DatagramSent();
        }
        catch (SocketException)
        {
            // WouldBlock, NoBufferSpaceAvailable, NetworkUnreachable, ...: UDP may lose it anyway, and the
            // protocol retransmits. Waiting here would stall the replica's loop.
            DropOutput(UdpDropReason.SendFailed, peer, frames);
        }
        catch (ObjectDisposedException)
        {
            DropOutput(UdpDropReason.NotRunning, peer, frames);
        }
    }

    private void DropOutput(UdpDropReason reason, int destination, long frames)
    {
        Count(reason, frames);
        if (_logLimiter.TryAcquire((int)reason, out var suppressed))
        {
            UdpLog.DroppedOutput(_logger, _replicaId, reason, destination, suppressed);
        }
    }

    private void EncodeFailed(PaxosMessage message, int destination, string detail)
    {
        Count(UdpDropReason.EncodeFailed, 1);
        if (_logLimiter.TryAcquire((int)UdpDropReason.EncodeFailed, out var suppressed))
        {
            UdpLog.EncodeFailed(_logger, _replicaId, message.ToString(), destination, detail, suppressed);
        }
    }
}
