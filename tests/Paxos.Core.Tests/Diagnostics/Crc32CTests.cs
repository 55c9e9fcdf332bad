using System.Text;
using Paxos.Diagnostics;

namespace Paxos.Tests.Diagnostics;

public class Crc32CTests
{
    private static IEnumerable<TestCaseData> Vectors()
    {
        yield return new TestCaseData(Encoding.ASCII.GetBytes("123456789"), 0xE3069283u).SetName("123456789");
        yield return new TestCaseData(new byte[32], 0x8A9136AAu).SetName("32 zeros");
        yield return new TestCaseData(Enumerable.Repeat((byte)0xFF, 32).ToArray(), 0x62A8AB43u).SetName("32 x FF");
        yield return new TestCaseData(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray(), 0x46DD794Eu).SetName("0 to 31");
        yield return new TestCaseData(Array.Empty<byte>(), 0u).SetName("empty");
    }

    [TestCaseSource(nameof(Vectors))]
    public void Compute_matches_the_published_vector(byte[] data, uint expected)
    {
        Crc32C.Compute(data).Should().Be(expected);
    }

    [TestCaseSource(nameof(Vectors))]
    public void The_software_path_matches_the_published_vector(byte[] data, uint expected)
    {
        Crc32C.AppendSoftware(0, data).Should().Be(expected);
    }

    [TestCaseSource(nameof(Vectors))]
    public void The_hardware_path_matches_the_published_vector(byte[] data, uint expected)
    {
        if (!Crc32C.IsHardwareAccelerated)
        {
            Assert.Ignore("This CPU has no CRC-32C instruction.");
        }

        Crc32C.AppendHardware(0, data).Should().Be(expected);
    }

    [Test]
    public void Hardware_and_software_agree_on_random_inputs_of_every_length_up_to_300()
    {
        if (!Crc32C.IsHardwareAccelerated)
        {
            Assert.Ignore("This CPU has no CRC-32C instruction.");
        }

        var random = new Random(20_260_127);
        var buffer = new byte[301];
        for (var length = 0; length <= 300; length++)
        {
            for (var round = 0; round < 4; round++)
            {
                random.NextBytes(buffer);

                // Start at every alignment, so unaligned eight-byte loads are covered too.
                var data = buffer.AsSpan(round % 2, length);
                var seed = round < 2 ? 0u : (uint)random.Next();

                Crc32C.AppendHardware(seed, data).Should().Be(Crc32C.AppendSoftware(seed, data), $"length {length}, round {round}");
            }
        }
    }

    [Test]
    public void The_32_bit_sse42_path_agrees_with_software()
    {
        if (!System.Runtime.Intrinsics.X86.Sse42.IsSupported)
        {
            Assert.Ignore("This CPU has no SSE 4.2.");
        }

        var random = new Random(42);
        var buffer = new byte[300];
        random.NextBytes(buffer);
        for (var length = 0; length <= buffer.Length; length++)
        {
            var data = buffer.AsSpan(0, length);
            (~Crc32C.UpdateSse42(~0u, data)).Should().Be(Crc32C.AppendSoftware(0, data), $"length {length}");
        }
    }

    [Test]
    public void Append_continues_a_finished_checksum()
    {
        var random = new Random(7);
        var data = new byte[257];
        random.NextBytes(data);
        var whole = Crc32C.Compute(data);

        for (var split = 0; split <= data.Length; split++)
        {
            var head = data.AsSpan(0, split);
            var tail = data.AsSpan(split);
            Crc32C.Append(Crc32C.Compute(head), tail).Should().Be(whole, $"split at {split}");
            Crc32C.AppendSoftware(Crc32C.AppendSoftware(0, head), tail).Should().Be(whole, $"software, split at {split}");
        }
    }

    [Test]
    public void Append_to_zero_is_compute()
    {
        var data = Encoding.ASCII.GetBytes("The quick brown fox jumps over the lazy dog");

        Crc32C.Append(0, data).Should().Be(Crc32C.Compute(data));
    }
}
