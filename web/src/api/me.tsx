import { createContext, useContext } from "react";
import type { UserResponse } from "./types";

export const MeContext = createContext<UserResponse | null>(null);

/** The signed-in user (GET /v1/me); the shell renders pages only once it is known. */
export function useMe(): UserResponse {
  const me = useContext(MeContext);
  if (!me) throw new Error("useMe outside a signed-in page");
  return me;
}
