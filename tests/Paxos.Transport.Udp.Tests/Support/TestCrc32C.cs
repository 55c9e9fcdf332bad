using System.Buffers.Binary;

namespace Paxos.Transport.Udp.Tests.Support;

/// <summary>A plain table CRC-32C (Castagnoli), written here so tests can repair a mutated frame's checksum
/// without reaching into the core's internals.</summary>
internal static class TestCrc32C
{
    private static readonly uint[] Table = BuildTable();

    public static uint Compute(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }

        return ~crc;
    }

    /// <summary>Rewrites the CRC-32C trailer of the frame that fills <paramref name="frame"/>.</summary>
    public static void Repair(Span<byte> frame) =>
        BinaryPrimitives.WriteUInt32LittleEndian(frame[^4..], Compute(frame[..^4]));

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (var i = 0u; i < 256; i++)
        {
            var crc = i;
            for (var bit = 0; bit < 8; bit++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
            }

            table[i] = crc;
        }

        return table;
    }
}
