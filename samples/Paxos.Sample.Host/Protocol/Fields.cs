using System.Buffers.Binary;
using System.Text;

namespace Paxos.Sample.Protocol;

/// <summary>Writes the fixed-width little-endian fields of a client-protocol frame into a buffer sized beforehand.</summary>
internal ref struct FieldWriter(Span<byte> destination)
{
    private readonly Span<byte> _destination = destination;
    private int _position;

    public readonly int Position => _position;

    public void Byte(byte value) => _destination[_position++] = value;

    public void Int32(int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(_destination[_position..], value);
        _position += 4;
    }

    public void Int64(long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(_destination[_position..], value);
        _position += 8;
    }

    public void Double(double value)
    {
        BinaryPrimitives.WriteDoubleLittleEndian(_destination[_position..], value);
        _position += 8;
    }

    public void Bytes(ReadOnlySpan<byte> value)
    {
        value.CopyTo(_destination[_position..]);
        _position += value.Length;
    }
}

/// <summary>Reads the fields <see cref="FieldWriter"/> wrote. Every read is bounds-checked: a short or malformed
/// body makes <see cref="Ok"/> false (and later reads return zeros) instead of throwing.</summary>
internal ref struct FieldReader(ReadOnlySpan<byte> source)
{
    private readonly ReadOnlySpan<byte> _source = source;
    private int _position;

    /// <summary>Whether every read so far found its bytes.</summary>
    public bool Ok { get; private set; } = true;

    /// <summary>Whether every read found its bytes and nothing is left over.</summary>
    public readonly bool Complete => Ok && _position == _source.Length;

    public byte Byte() => Take(1) is { IsEmpty: false } span ? span[0] : (byte)0;

    public int Int32() => Take(4) is { IsEmpty: false } span ? BinaryPrimitives.ReadInt32LittleEndian(span) : 0;

    public long Int64() => Take(8) is { IsEmpty: false } span ? BinaryPrimitives.ReadInt64LittleEndian(span) : 0;

    public double Double() => Take(8) is { IsEmpty: false } span ? BinaryPrimitives.ReadDoubleLittleEndian(span) : 0;

    /// <summary>Everything not read yet.</summary>
    public ReadOnlySpan<byte> Rest()
    {
        var rest = Ok ? _source[_position..] : default;
        _position = _source.Length;
        return rest;
    }

    /// <summary>The rest as UTF-8 text (invalid bytes become U+FFFD: it is only shown to people).</summary>
    public string RestAsText() => Encoding.UTF8.GetString(Rest());

    private ReadOnlySpan<byte> Take(int length)
    {
        if (!Ok || _source.Length - _position < length)
        {
            Ok = false;
            return default;
        }

        var span = _source.Slice(_position, length);
        _position += length;
        return span;
    }
}
