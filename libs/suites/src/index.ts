export * from "./suite";
