using System.Globalization;
using Paxos.Sample;

namespace Paxos.Benchmarks;

/// <summary>The plain numbers that follow <c>--fsync</c>, <c>--floor</c>, <c>--recovery</c> and <c>--cluster</c>,
/// checked: a value that is not a whole number in range, or one too many, is a <see cref="UsageException"/> that
/// names it.</summary>
internal static class Positional
{
    /// <summary>Argument <paramref name="index"/> as an int from <paramref name="min"/> to <paramref name="max"/>, or
    /// <paramref name="fallback"/> when the command line is shorter.</summary>
    public static int Int(string[] args, int index, string name, int fallback, int min, int max) =>
        (int)Long(args, index, name, fallback, min, max);

    /// <summary>Argument <paramref name="index"/> as a long from <paramref name="min"/> to <paramref name="max"/>, or
    /// <paramref name="fallback"/> when the command line is shorter.</summary>
    public static long Long(string[] args, int index, string name, long fallback, long min, long max)
    {
        if (args.Length <= index)
        {
            return fallback;
        }

        return long.TryParse(args[index], NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw new UsageException(string.Create(CultureInfo.InvariantCulture,
                $"{args[0]} takes [{name}] as a whole number from {min:N0} to {max:N0}; got '{args[index]}'."));
    }

    /// <summary>Refuses arguments from <paramref name="count"/> on: the command takes fewer.</summary>
    public static void RejectBeyond(string[] args, int count)
    {
        if (args.Length > count)
        {
            throw new UsageException(string.Create(CultureInfo.InvariantCulture,
                $"{args[0]} takes at most {count - 1} numbers; '{args[count]}' is one too many."));
        }
    }
}
