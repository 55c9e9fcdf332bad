using System.Buffers;
using System.Net;

namespace Paxos.Transport.Udp;

/// <summary>
/// The datagrams pending for one peer: a ring of at most <c>capacity</c> pooled buffers, the newest of which is
/// open for more frames. Not thread-safe: the transport calls it under its send lock.
/// </summary>
internal sealed class PeerOutbox(int peer, SocketAddress address, int maxDatagramBytes, int capacity)
{
    private readonly byte[]?[] _buffers = new byte[capacity][];
    private readonly int[] _lengths = new int[capacity];
    private readonly int[] _frames = new int[capacity];
    private int _first;
    private int _count;

    /// <summary>Room for a frame of <paramref name="frameLength"/> bytes at the end of the open datagram, or at the
    /// start of a new one when it does not fit; when every buffer holds a datagram, the oldest is sent first.</summary>
    public Span<byte> Reserve(int frameLength, UdpTransport transport)
    {
        if (_count > 0)
        {
            var open = Slot(_count - 1);
            if (_lengths[open] + frameLength <= maxDatagramBytes)
            {
                return _buffers[open].AsSpan(_lengths[open], frameLength);
            }
        }

        if (_count == capacity)
        {
            SendOldest(transport);
        }

        var slot = Slot(_count);
        var buffer = _buffers[slot] ??= ArrayPool<byte>.Shared.Rent(maxDatagramBytes);
        _lengths[slot] = 0;
        _frames[slot] = 0;
        _count++;
        return buffer.AsSpan(0, frameLength);
    }

    /// <summary>Adds the frame just written into the span <see cref="Reserve"/> gave.</summary>
    public void Commit(int frameLength)
    {
        var open = Slot(_count - 1);
        _lengths[open] += frameLength;
        _frames[open]++;
    }

    /// <summary>Sends every pending datagram, oldest first.</summary>
    public void SendAll(UdpTransport transport)
    {
        while (_count > 0)
        {
            SendOldest(transport);
        }
    }

    /// <summary>Gives the buffers back to the pool; pending datagrams are discarded.</summary>
    public void ReturnBuffers()
    {
        for (var i = 0; i < _buffers.Length; i++)
        {
            if (_buffers[i] is { } buffer)
            {
                ArrayPool<byte>.Shared.Return(buffer);
                _buffers[i] = null;
            }
        }

        _count = 0;
    }

    private void SendOldest(UdpTransport transport)
    {
        var slot = _first;
        if (_frames[slot] > 0)
        {
            transport.SendDatagram(peer, address, _buffers[slot].AsSpan(0, _lengths[slot]), _frames[slot]);
        }

        _first = Slot(1);
        _count--;
    }

    private int Slot(int offset) => (_first + offset) % capacity;
}
