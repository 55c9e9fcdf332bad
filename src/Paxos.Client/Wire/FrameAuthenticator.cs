using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Paxos.Client.Wire;

/// <summary>Which way a frame travels; part of what a tag covers, so a frame cannot be reflected back to its sender.</summary>
internal enum FrameDirection : byte
{
    ClientToReplica = 1,
    ReplicaToClient = 2,
}

/// <summary>
/// Seals and checks the frames of one direction of one connection. The tag is the first 16 bytes of
/// HMAC-SHA256(key, direction ‖ client nonce ‖ replica nonce ‖ counter ‖ frame content before the tag), where the
/// counter is the frame's position in its direction (0, 1, 2, …) and is not sent: TCP delivers in order, so both
/// ends know it. A frame replayed within the connection has the wrong counter; one replayed into another connection
/// has the wrong nonces (the replica draws a fresh one per connection). The client's Hello is sealed before it knows
/// the replica's nonce, with zeros in its place.
/// </summary>
/// <remarks>Not thread-safe: a connection seals under its write lock and checks on its one reader.</remarks>
internal sealed class FrameAuthenticator : IDisposable
{
    private const int ContextBytes = 1 + (2 * WireFormat.NonceBytes);

    private readonly IncrementalHash _hmac;
    private readonly byte[] _context = new byte[ContextBytes + sizeof(ulong)];
    private ulong _counter;

    public FrameAuthenticator(ReadOnlySpan<byte> key, FrameDirection direction, ReadOnlySpan<byte> clientNonce, ReadOnlySpan<byte> replicaNonce, ulong firstCounter)
    {
        if (key.IsEmpty)
        {
            throw new ArgumentException("A key is needed to authenticate frames.", nameof(key));
        }

        _hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key);
        _context[0] = (byte)direction;
        clientNonce.CopyTo(_context.AsSpan(1, WireFormat.NonceBytes));
        replicaNonce.CopyTo(_context.AsSpan(1 + WireFormat.NonceBytes, WireFormat.NonceBytes));
        _counter = firstCounter;
    }

    /// <summary>Fills the last <see cref="WireFormat.TagBytes"/> of a whole frame (length prefix included) with its
    /// tag, and moves on to the next counter.</summary>
    public void Seal(Span<byte> frame)
    {
        var content = frame[WireFormat.LengthBytes..];
        Span<byte> mac = stackalloc byte[32];
        Compute(content[..^WireFormat.TagBytes], mac);
        mac[..WireFormat.TagBytes].CopyTo(content[^WireFormat.TagBytes..]);
    }

    /// <summary>Whether a frame's content (after the length prefix, tag included) carries the right tag for the next
    /// counter. The counter moves on either way: after a failure the connection is closed.</summary>
    public bool Check(ReadOnlySpan<byte> content)
    {
        if (content.Length < WireFormat.TagBytes)
        {
            _counter++;
            return false;
        }

        Span<byte> mac = stackalloc byte[32];
        Compute(content[..^WireFormat.TagBytes], mac);
        return CryptographicOperations.FixedTimeEquals(mac[..WireFormat.TagBytes], content[^WireFormat.TagBytes..]);
    }

    public void Dispose() => _hmac.Dispose();

    private void Compute(ReadOnlySpan<byte> signed, Span<byte> mac)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(_context.AsSpan(ContextBytes), _counter++);
        _hmac.AppendData(_context);
        _hmac.AppendData(signed);
        _hmac.GetHashAndReset(mac);
    }
}
