import { render, screen } from "@testing-library/react";
import type { Stats } from "./api";
import { StatList } from "./components/StatList";
import { pipelineFigures } from "./figures";
import { formatLatency } from "./format";

const stats: Stats = {
  backlog: 0,
  pending: 0,
  dead_letters: 0,
  stored_rows: 10,
  oldest_age_seconds: 0,
  consumers: 1,
  partitions: [],
  end_to_end_p50_seconds: 0.042,
  end_to_end_p99_seconds: 3.2,
  hostname: "web-1",
};

function figure(label: string) {
  return screen.getByLabelText(label, { selector: "dd" });
}

describe("the end-to-end figures", () => {
  it("shows the last minute's p50 and p99 beside the store rate", () => {
    render(<StatList items={pipelineFigures(stats, 250)} busy={false} />);
    expect(figure("Store rate")).toHaveTextContent("250/s");
    expect(figure("End-to-end p50")).toHaveTextContent("42 ms");
    expect(figure("End-to-end p99")).toHaveTextContent("3.2 s");
    const labels = screen.getAllByRole("term").map((term) => term.textContent);
    expect(labels.slice(labels.indexOf("Store rate"))).toEqual(["Store rate", "End-to-end p50", "End-to-end p99"]);
  });

  it("shows a dash when nothing was stored in the last minute, and a placeholder while loading", () => {
    const { unmount } = render(
      <StatList
        items={pipelineFigures({ ...stats, end_to_end_p50_seconds: null, end_to_end_p99_seconds: null }, 0)}
        busy={false}
      />,
    );
    expect(figure("End-to-end p50")).toHaveTextContent("—");
    expect(figure("End-to-end p99")).toHaveTextContent("—");
    unmount();
    render(<StatList items={pipelineFigures(null, undefined)} busy />);
    expect(figure("End-to-end p99")).toHaveTextContent("…");
  });
});

describe("formatLatency", () => {
  it("gives milliseconds below a second and seconds above", () => {
    expect(formatLatency(0.0004)).toBe("0 ms");
    expect(formatLatency(0.999)).toBe("999 ms");
    expect(formatLatency(1.25)).toBe("1.3 s");
    expect(formatLatency(undefined)).toBe("—");
  });
});

describe("the backlog over partitions", () => {
  const partition = { backlog: 0, pending: 0, dead_letters: 0, oldest_age_seconds: 0, consumers: 1 };

  it("shows each partition's share when there are several", () => {
    const partitions = [
      { ...partition, stream: "{countq}:stream", backlog: 1200 },
      { ...partition, stream: "{countq.p7}:stream", backlog: 30 },
      { ...partition, stream: "{countq.p9}:stream", backlog: 0 },
    ];
    render(<StatList items={pipelineFigures({ ...stats, backlog: 1230, partitions }, 0)} busy={false} />);
    expect(figure("Backlog")).toHaveTextContent("1,230");
    expect(screen.getByText(/^3 partitions: /)).toHaveTextContent("3 partitions: 1,200 + 30 + 0");
  });

  it("says nothing more for a single stream", () => {
    const partitions = [{ ...partition, stream: "{countq}:stream", backlog: 5 }];
    render(<StatList items={pipelineFigures({ ...stats, backlog: 5, partitions }, 0)} busy={false} />);
    expect(screen.queryByText(/partitions:/)).toBeNull();
  });
});
