/**
 * Built-in categories. Names follow OhMyOpenCode 4.19; the prompt text is ours. A category picks
 * the model and agent (unset → the engine's defaults) and adds to the system prompt.
 */
export const DEFAULT_CATEGORIES: Record<string, { description: string; prompt: string; model?: string; agent?: string }> = {
  "visual-engineering": {
    description: "Front-end, UI and visual design work",
    prompt:
      "You are working on user-facing, visual engineering: layout, styling, accessibility and interaction. Favour clear structure, consistent spacing and accessible markup; describe visual changes precisely.",
  },
  artistry: {
    description: "Creative work where originality matters",
    prompt:
      "This task calls for creativity. Offer original, well-crafted ideas; when there are several good directions, present the strongest one and mention an alternative in a sentence.",
  },
  ultrabrain: {
    description: "Hard reasoning: architecture, tricky bugs, careful analysis",
    prompt:
      "This is a hard problem. Reason step by step, check your assumptions against the evidence available, consider failure cases, and state your confidence and what would change your conclusion.",
  },
  deep: {
    description: "Thorough research and investigation before answering",
    prompt:
      "Investigate thoroughly before answering: gather the relevant facts with the tools you have, cross-check them, and give a complete answer that cites where each fact came from.",
  },
  quick: {
    description: "Small, well-defined tasks answered fast",
    prompt: "This is a small, well-defined task. Answer directly and briefly; do only what was asked.",
  },
  "unspecified-low": {
    description: "General tasks of modest difficulty (the default)",
    prompt: "Help with the request efficiently. Keep the answer focused and practical.",
  },
  "unspecified-high": {
    description: "General tasks that deserve extra care",
    prompt: "Help with the request carefully: plan before acting, verify your results, and explain the important trade-offs.",
  },
  writing: {
    description: "Prose: documents, messages, summaries",
    prompt:
      "This is a writing task. Write clear, well-organized prose for the intended reader; prefer plain words and short sentences, and keep the requested tone and length.",
  },
};

export const DEFAULT_CATEGORY = "unspecified-low";
