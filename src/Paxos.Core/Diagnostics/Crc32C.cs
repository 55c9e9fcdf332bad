using System.Buffers.Binary;
using System.Runtime.Intrinsics.X86;
using ArmCrc32 = System.Runtime.Intrinsics.Arm.Crc32;

namespace Paxos.Diagnostics;

/// <summary>
/// CRC-32C (Castagnoli): reflected polynomial 0x82F63B78, initial value 0xFFFFFFFF, final xor
/// 0xFFFFFFFF — the checksum of iSCSI, ext4 and SCTP. It guards datagrams and log records against
/// corruption, not against forgery (a cluster key and HMAC-SHA256 do that).
/// </summary>
/// <remarks>
/// <para>It uses the CPU's CRC32 instruction when there is one (SSE 4.2 on x86, the CRC32 extension on
/// Arm64) and a slicing-by-8 table otherwise. Both give the same value for every input.
/// System.IO.Hashing has no CRC-32C, hence this small class instead of a package.</para>
/// <para>Checksums chain like zlib's <c>crc32</c>: <see cref="Append"/> takes a <em>finished</em> CRC (as
/// returned by <see cref="Compute"/> or an earlier <see cref="Append"/>), so
/// <c>Append(Compute(a), b) == Compute(a + b)</c>, and since a finished CRC of nothing is 0,
/// <c>Append(0, x) == Compute(x)</c>. A file log can checksum a record in pieces this way.</para>
/// </remarks>
internal static class Crc32C
{
    private const uint Polynomial = 0x82F63B78;

    // Slicing-by-8: eight 256-entry tables, flat. Table k (at k * 256) advances a byte by k further bytes.
    private static readonly uint[] Table = BuildTable();

    /// <summary>Whether <see cref="Compute"/> and <see cref="Append"/> use a CPU instruction.</summary>
    public static bool IsHardwareAccelerated => Sse42.IsSupported || ArmCrc32.IsSupported;

    /// <summary>The CRC-32C of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => Append(0, data);

    /// <summary>Continues a checksum: the CRC-32C of the bytes <paramref name="crc"/> covers followed by
    /// <paramref name="data"/>.</summary>
    /// <param name="crc">A finished CRC-32C, as returned by <see cref="Compute"/> or <see cref="Append"/>;
    /// 0 to start afresh.</param>
    /// <param name="data">The next bytes.</param>
    public static uint Append(uint crc, ReadOnlySpan<byte> data) =>
        IsHardwareAccelerated ? AppendHardware(crc, data) : AppendSoftware(crc, data);

    /// <summary>The table-driven path; for tests, which compare it with the hardware path.</summary>
    internal static uint AppendSoftware(uint crc, ReadOnlySpan<byte> data) => ~UpdateSoftware(~crc, data);

    /// <summary>The CPU instruction path; for tests. Only call it when <see cref="IsHardwareAccelerated"/>.</summary>
    internal static uint AppendHardware(uint crc, ReadOnlySpan<byte> data)
    {
        if (Sse42.X64.IsSupported)
        {
            return ~UpdateSse42X64(~crc, data);
        }

        if (Sse42.IsSupported)
        {
            return ~UpdateSse42(~crc, data);
        }

        if (ArmCrc32.Arm64.IsSupported)
        {
            return ~UpdateArm64(~crc, data);
        }

        if (ArmCrc32.IsSupported)
        {
            return ~UpdateArm(~crc, data);
        }

        throw new PlatformNotSupportedException("This CPU has no CRC-32C instruction.");
    }

    // The Update* helpers work on the raw register (not inverted). The CRC is reflected, so the bytes
    // are consumed in memory order and a little-endian load of eight bytes feeds them in that order.
    private static uint UpdateSse42X64(uint state, ReadOnlySpan<byte> data)
    {
        ulong wide = state;
        while (data.Length >= sizeof(ulong))
        {
            wide = Sse42.X64.Crc32(wide, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[sizeof(ulong)..];
        }

        state = (uint)wide;
        foreach (var value in data)
        {
            state = Sse42.Crc32(state, value);
        }

        return state;
    }

    /// <summary>The four-bytes-at-a-time SSE 4.2 path of 32-bit processes; internal so tests on a 64-bit
    /// machine can check it. Works on the raw register, like the other <c>Update</c> helpers.</summary>
    internal static uint UpdateSse42(uint state, ReadOnlySpan<byte> data)
    {
        while (data.Length >= sizeof(uint))
        {
            state = Sse42.Crc32(state, BinaryPrimitives.ReadUInt32LittleEndian(data));
            data = data[sizeof(uint)..];
        }

        foreach (var value in data)
        {
            state = Sse42.Crc32(state, value);
        }

        return state;
    }

    private static uint UpdateArm64(uint state, ReadOnlySpan<byte> data)
    {
        while (data.Length >= sizeof(ulong))
        {
            state = ArmCrc32.Arm64.ComputeCrc32C(state, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[sizeof(ulong)..];
        }

        return UpdateArm(state, data);
    }

    private static uint UpdateArm(uint state, ReadOnlySpan<byte> data)
    {
        while (data.Length >= sizeof(uint))
        {
            state = ArmCrc32.ComputeCrc32C(state, BinaryPrimitives.ReadUInt32LittleEndian(data));
            data = data[sizeof(uint)..];
        }

        foreach (var value in data)
        {
            state = ArmCrc32.ComputeCrc32C(state, value);
        }

        return state;
    }

    private static uint UpdateSoftware(uint state, ReadOnlySpan<byte> data)
    {
        var table = Table;
        while (data.Length >= sizeof(ulong))
        {
            var low = state ^ BinaryPrimitives.ReadUInt32LittleEndian(data);
            var high = BinaryPrimitives.ReadUInt32LittleEndian(data[sizeof(uint)..]);
            state = table[(7 * 256) + (low & 0xFF)]
                ^ table[(6 * 256) + ((low >> 8) & 0xFF)]
                ^ table[(5 * 256) + ((low >> 16) & 0xFF)]
                ^ table[(4 * 256) + (low >> 24)]
                ^ table[(3 * 256) + (high & 0xFF)]
                ^ table[(2 * 256) + ((high >> 8) & 0xFF)]
                ^ table[256 + ((high >> 16) & 0xFF)]
                ^ table[high >> 24];
            data = data[sizeof(ulong)..];
        }

        foreach (var value in data)
        {
            state = table[(state ^ value) & 0xFF] ^ (state >> 8);
        }

        return state;
    }

    private static uint[] BuildTable()
    {
        var table = new uint[8 * 256];
        for (uint i = 0; i < 256; i++)
        {
            var entry = i;
            for (var bit = 0; bit < 8; bit++)
            {
                entry = (entry & 1) != 0 ? (entry >> 1) ^ Polynomial : entry >> 1;
            }

            table[i] = entry;
        }

        for (var k = 1; k < 8; k++)
        {
            for (var i = 0; i < 256; i++)
            {
                var previous = table[((k - 1) * 256) + i];
                table[(k * 256) + i] = (previous >> 8) ^ table[previous & 0xFF];
            }
        }

        return table;
    }
}
