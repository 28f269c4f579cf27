/** A site the wizard can send a case to. */
export interface WizardSite {
  id: string;
  name: string;
}
